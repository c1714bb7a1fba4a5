"""Real HTCondor binaries in a Debian root (scripts/htcondor-root), entered as a machine of its own
(tests/namespaces.py: PID, mount and hostname namespaces, in the test session's own network
namespace), and a pool of real daemons in it.

Everything the tests add to a rendered role lives in files named here, never in output/:
  /srv/confgen/<instance>/condor_config   a minimal root config (paths of this instance)
  /srv/confgen/<instance>/config.d/       the rendered role directory, byte for byte
  /srv/confgen/<instance>/test.d/99-confgen-test.conf   the loopback and single-host overrides
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.namespaces import Machine, in_host_network

REPO = Path(__file__).resolve().parents[2]
SUBMITTER = "confgen-user"  # created by scripts/htcondor-root; the schedd refuses jobs of root
HOSTNAME = "pool.confgen.test"  # the host name inside the machine


def build_root() -> Path:
    """Build (or reuse) the chroot; a failure fails the test session, it is not a skip."""
    proc = subprocess.run([str(REPO / "scripts" / "htcondor-root")], capture_output=True, text=True, timeout=900, preexec_fn=in_host_network)
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/htcondor-root failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


class Root:
    """The HTCondor root and the machine that runs it. Files are written from the host (the same
    directory); commands run inside the machine."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.version = (path / ".confgen-ready").read_text().strip()
        self.machine = Machine(path, HOSTNAME)

    def host(self, inside: str) -> Path:
        return self.path / inside.lstrip("/")

    def command(self, *argv: str, env: dict[str, str] | None = None, user: str | None = None, machine: Machine | None = None) -> list[str]:
        """The host argv that runs `argv` in the machine (or in `machine`, another machine of this
        root), as `user` (else root), with only `env`."""
        base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
        if user:
            base["HOME"] = f"/home/{user}"
            base["USER"] = user
        as_user = ["chroot", f"--userspec={user}:{user}", "/"] if user else []
        return [*(machine or self.machine).enter(), *as_user, "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in {**base, **(env or {})}.items()), *argv]

    def run(self, *argv: str, env: dict[str, str] | None = None, user: str | None = None, check: bool = True, timeout: float = 60,
            input: str | None = None, machine: Machine | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.command(*argv, env=env, user=user, machine=machine), capture_output=True, text=True, timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def write(self, inside: str, text: str, mode: int = 0o644) -> None:
        path = self.host(inside)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a new file: the test images hard-link the root's files
        path.write_text(text)
        path.chmod(mode)

    def install_dir(self, inside: str, files: dict[str, str]) -> None:
        """Replace a directory with exactly these files (as Puppet does with recurse and purge)."""
        path = self.host(inside)
        if path.exists():
            shutil.rmtree(path)
        for rel, text in files.items():
            self.write(f"{inside}/{rel}", text)

    def processes(self) -> list[int]:
        """Host PIDs of every process in the machine but its first."""
        return self.machine.pids()

    def kill_all(self) -> None:
        """End the machine (every process in it, and its mounts), then start it afresh."""
        self.machine.stop()
        self.machine.start()


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
def running(root: Root) -> Iterator[None]:
    root.machine.start()
    try:
        yield
    finally:
        root.machine.stop()
