"""Real HTCondor binaries in a Debian chroot (scripts/htcondor-root), and a pool of real daemons in it.

Everything the tests add to a rendered role lives in files named here, never in output/:
  /srv/confgen/<instance>/condor_config   a minimal root config (paths of this instance)
  /srv/confgen/<instance>/config.d/       the rendered role directory, byte for byte
  /srv/confgen/<instance>/test.d/99-confgen-test.conf   the loopback, single-host and chroot overrides
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUBMITTER = "confgen-user"  # created by scripts/htcondor-root; the schedd refuses jobs of root


def build_root() -> Path:
    """Build (or reuse) the chroot; a failure fails the test session, it is not a skip."""
    proc = subprocess.run([str(REPO / "scripts" / "htcondor-root")], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/htcondor-root failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


class Root:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.version = (path / ".confgen-ready").read_text().strip()

    def host(self, inside: str) -> Path:
        return self.path / inside.lstrip("/")

    def run(self, *argv: str, env: dict[str, str] | None = None, user: str | None = None, check: bool = True, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = ["chroot"]
        if user:
            cmd += ["--userspec", f"{user}:{user}"]
        base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
        if user:
            base["HOME"] = f"/home/{user}"
            base["USER"] = user
        cmd += [str(self.path), "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in {**base, **(env or {})}.items()), *argv]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def write(self, inside: str, text: str, mode: int = 0o644) -> None:
        path = self.host(inside)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)

    def install_dir(self, inside: str, files: dict[str, str]) -> None:
        """Replace a directory with exactly these files (as Puppet does with recurse and purge)."""
        path = self.host(inside)
        if path.exists():
            shutil.rmtree(path)
        for rel, text in files.items():
            self.write(f"{inside}/{rel}", text)

    def mount_proc(self) -> None:
        proc = self.host("/proc")
        if subprocess.run(["mountpoint", "-q", str(proc)]).returncode != 0:
            subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True)

    def umount_proc(self) -> None:
        proc = self.host("/proc")
        if subprocess.run(["mountpoint", "-q", str(proc)]).returncode == 0:
            subprocess.run(["umount", "-l", str(proc)], check=False)

    def processes(self) -> list[int]:
        """Every process whose root directory is this chroot."""
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry}/root") == str(self.path):
                        pids.append(int(entry))
        return pids

    def kill_all(self, grace: float = 5.0) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.processes():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.1)
        leftover = self.processes()
        assert not leftover, f"processes left in the chroot: {leftover}"


def wait_for(what: str, probe, timeout: float = 60, interval: float = 0.5):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)\s*(@?=)(.*)$")


def knob_lines(files: Iterable[tuple[str, str]]) -> dict[str, tuple[str, int]]:
    """Knob -> (file, line) of its last assignment in a role directory, in the order HTCondor reads it.

    For a multi-line `NAME @=TAG … @TAG` value, HTCondor reports the line of the closing `@TAG`.
    """
    last: dict[str, tuple[str, int]] = {}
    for name, text in sorted(files):
        open_knob, end_tag = None, None
        for number, line in enumerate(text.split("\n"), start=1):
            if end_tag is not None:
                if line.strip() == "@" + end_tag:
                    last[open_knob] = (name, number)  # type: ignore[index]
                    open_knob, end_tag = None, None
                continue
            m = _ASSIGN.match(line)
            if m:
                last[m.group(1)] = (name, number)
                if m.group(2) == "@=":
                    open_knob, end_tag = m.group(1), m.group(3).strip()
    return last


@contextlib.contextmanager
def mounted_proc(root: Root) -> Iterator[None]:
    root.mount_proc()
    try:
        yield
    finally:
        root.kill_all()
        root.umount_proc()
