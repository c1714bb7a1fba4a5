"""Faults while writing output/: every role directory holds its old files or its new files, never a mix.

Each test starts from output/ rendered from site OLD and renders site NEW, which changes every role (the shared port),
drops the class `gpu` (role execute-gpu) and adds `gpu2` (role execute-gpu2). The fault hits the
writer of NEW; the assertions are made on the directory a reader would then see, and on the next run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from confgen import output
from confgen.errors import OutputError
from confgen.render import Fragment, render_site
from tests.conftest import ROOT, example_text, site_from_text

FAULTINJECT = Path(__file__).resolve().parent / "faultinject"
OLD_TEXT = example_text()
NEW_TEXT = OLD_TEXT.replace("port: 9618}", "port: 9620}").replace("  gpu:\n    interactive: allowed\n    gpus: true", "  gpu2:\n    interactive: allowed\n    gpus: true")
assert NEW_TEXT.count("gpu2:") == 1 and "port: 9620}" in NEW_TEXT


def fragments_of(text: str) -> list[Fragment]:
    return render_site(site_from_text(text))


def roles(outdir: Path) -> dict[str, dict[str, bytes]]:
    """The role directories a reader sees: name -> {relative path: bytes}."""
    seen = {}
    for entry in sorted(outdir.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            seen[entry.name] = {p.relative_to(entry).as_posix(): p.read_bytes() for p in sorted(entry.rglob("*")) if p.is_file()}
    return seen


def as_roles(frags: list[Fragment]) -> dict[str, dict[str, bytes]]:
    out: dict[str, dict[str, bytes]] = {}
    for f in frags:
        out.setdefault(f.role, {})[f.name] = f.text.encode()
    return out


def assert_old_or_new(outdir: Path, old: dict[str, dict[str, bytes]], new: dict[str, dict[str, bytes]]) -> None:
    now = roles(outdir)
    for role in sorted(set(old) | set(new) | set(now)):
        got = now.get(role)
        assert got is not None or role not in (old.keys() & new.keys()), f"{role} is missing"
        assert got in (old.get(role), new.get(role)), f"{role} holds a mix of old and new files"


@pytest.fixture(scope="module")
def sites(tmp_path_factory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("sites")
    old, new = fragments_of(OLD_TEXT), fragments_of(NEW_TEXT)
    template = tmp / "old-output"
    output.write(old, template)
    fragments_json = tmp / "new.json"
    fragments_json.write_text(json.dumps([{"role": f.role, "name": f.name, "text": f.text} for f in new]))
    return {"old": as_roles(old), "new": as_roles(new), "new_frags": new, "template": template, "new_json": fragments_json}


def fresh_output(sites, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    outdir = tmp_path / "output"
    if outdir.exists():
        shutil.rmtree(outdir)
    shutil.copytree(sites["template"], outdir)
    return outdir


# The writer alone, in a fresh interpreter, so that a SIGKILL is a real kill (no finally, no cleanup).
WRITER = """
import json, sys
from pathlib import Path
from types import SimpleNamespace
import os
from confgen import output
if os.environ.get("CONFGEN_TEST_NO_EXCHANGE"):
    output._renameat2 = None  # as on a file system without renameat2(RENAME_EXCHANGE)
frags = [SimpleNamespace(**f) for f in json.loads(Path(sys.argv[1]).read_text())]
output.write(frags, Path(sys.argv[2]))
"""


def run_writer(sites, outdir: Path, fault: str | None, exchange: bool = True) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FAULTINJECT), str(ROOT)]))
    env.pop("CONFGEN_FAULT", None)
    env.pop("CONFGEN_TEST_NO_EXCHANGE", None)
    if not exchange:
        env["CONFGEN_TEST_NO_EXCHANGE"] = "1"
    if fault:
        env["CONFGEN_FAULT"] = fault
    return subprocess.run([sys.executable, "-c", WRITER, str(sites["new_json"]), str(outdir)], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "rename-aside"])
def test_killed_at_every_step_leaves_old_or_new_and_the_next_run_finishes(sites, tmp_path, exchange):  # type: ignore[no-untyped-def]
    sentinel = tmp_path / "outside.txt"
    sentinel.write_text("keep")
    kills = 0
    for step in range(1, 500):
        outdir = fresh_output(sites, tmp_path)
        proc = run_writer(sites, outdir, f"kill:{step}", exchange)
        if proc.returncode == 0:
            break  # the writer finished before its `step`-th fsync: every step has been killed once
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        kills += 1
        leftovers = [p for p in outdir.iterdir() if p.name.startswith((".confgen-new-", ".confgen-old-", ".confgen-tmp-"))]
        if exchange:
            assert_old_or_new(outdir, sites["old"], sites["new"])
            _, recovered = output.write(sites["new_frags"], outdir)
        else:  # between the two renames the role is missing for a moment; its old files wait aside
            recovered = output._recover(outdir)
            assert_old_or_new(outdir, sites["old"], sites["new"])
            output.write(sites["new_frags"], outdir)
        assert len(recovered) == len(leftovers), (recovered, leftovers)
        assert roles(outdir) == sites["new"], f"killed at step {step}: the next run did not finish"
        assert sorted(p.name for p in outdir.iterdir() if p.name.startswith(".")) == [".confgen-lock", ".confgen-manifest"]
    assert kills > 30, kills  # one per file written, directory built, swapped and removed
    assert sentinel.read_text() == "keep"


def test_disk_full_at_every_step_is_reported_and_leaves_old_or_new(sites, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    real_fsync = os.fsync
    failures = 0
    for step in range(1, 500):
        outdir = fresh_output(sites, tmp_path)
        calls = 0

        def full(fd: int, step: int = step) -> None:
            nonlocal calls
            calls += 1
            if calls == step:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", full)
        try:
            output.write(sites["new_frags"], outdir)
        except OutputError as exc:
            failures += 1
            assert "No space left on device" in str(exc) and "old or its new files" in str(exc)
            monkeypatch.setattr(os, "fsync", real_fsync)
            assert_old_or_new(outdir, sites["old"], sites["new"])
            assert not [p for p in outdir.iterdir() if p.name.startswith((".confgen-new-", ".confgen-tmp-"))]  # cleaned up on the spot
            output.write(sites["new_frags"], outdir)
            assert roles(outdir) == sites["new"]
        else:
            break
        finally:
            monkeypatch.setattr(os, "fsync", real_fsync)
    assert failures > 30, failures


@pytest.mark.skipif(os.geteuid() != 0, reason="a real full file system needs a tmpfs mount (root); the simulated test above covers every step")
def test_real_full_tmpfs_is_reported_and_leaves_old_or_new(sites, tmp_path):  # type: ignore[no-untyped-def]
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "confgen-test", str(mnt)], check=True)
    try:
        outdir = mnt / "output"
        shutil.copytree(sites["template"], outdir)
        used = os.statvfs(mnt)
        used_kb = (used.f_blocks - used.f_bfree) * used.f_frsize // 1024
        subprocess.run(["mount", "-o", f"remount,size={used_kb + 24}k", str(mnt)], check=True)  # room for a few new files only
        with pytest.raises(OutputError, match="No space left on device"):
            output.write(sites["new_frags"], outdir)
        assert_old_or_new(outdir, sites["old"], sites["new"])
        subprocess.run(["mount", "-o", "remount,size=4m", str(mnt)], check=True)
        output.write(sites["new_frags"], outdir)
        assert roles(outdir) == sites["new"]
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_an_interrupted_cli_render_is_finished_and_reported_by_the_next(sites, tmp_path):  # type: ignore[no-untyped-def]
    outdir = fresh_output(sites, tmp_path)
    (tmp_path / "site.yaml").write_text(NEW_TEXT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FAULTINJECT), str(ROOT)]), CONFGEN_FAULT="kill:12")
    cli = [sys.executable, "-m", "confgen", "render", "site.yaml", "-o", str(outdir)]
    proc = subprocess.run(cli, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    assert_old_or_new(outdir, sites["old"], sites["new"])
    assert [p for p in outdir.iterdir() if p.name.startswith(".confgen-new-")]  # the kill left a half-built directory
    del env["CONFGEN_FAULT"]
    proc = subprocess.run(cli, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "an unfinished directory of an interrupted run" in proc.stderr
    assert roles(outdir) == sites["new"]


def test_two_renders_at_once_take_turns(sites, tmp_path):  # type: ignore[no-untyped-def]
    """Two `confgen render` processes, different sites, one output/: both succeed, one wins whole."""
    (tmp_path / "old.yaml").write_text(OLD_TEXT)
    (tmp_path / "new.yaml").write_text(NEW_TEXT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(3):
        outdir = fresh_output(sites, tmp_path)
        commands = [[sys.executable, "-m", "confgen", "render", site, "-o", str(outdir)] for site in ("new.yaml", "old.yaml")]
        procs = [subprocess.Popen(c, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
        results = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], results
        assert roles(outdir) in (sites["old"], sites["new"])  # the whole pool of one site, not a mix of both
        assert not [p for p in outdir.iterdir() if p.name.startswith((".confgen-new-", ".confgen-old-", ".confgen-tmp-"))]


def test_a_held_lock_is_waited_for_then_reported(sites, tmp_path):  # type: ignore[no-untyped-def]
    outdir = fresh_output(sites, tmp_path)
    with open(outdir / output.LOCK, "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        holder.write("4242\n")
        holder.flush()
        started = time.monotonic()
        with pytest.raises(OutputError, match=r"being written by another confgen render \(pid 4242\); waited 1 s, wrote nothing"):
            output.write(sites["new_frags"], outdir, lock_timeout=1.0)
        assert time.monotonic() - started < 5
    assert roles(outdir) == sites["old"]


@contextlib.contextmanager
def read_only(path: Path):  # type: ignore[no-untyped-def]
    """Root ignores permission bits, so as root this is a read-only bind mount (a real EROFS)."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
            yield
        finally:
            subprocess.run(["umount", str(path)], check=True)
    else:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)


def test_read_only_output_is_reported_and_left_alone(sites, tmp_path, run, monkeypatch):  # type: ignore[no-untyped-def]
    outdir = fresh_output(sites, tmp_path)
    (tmp_path / "site.yaml").write_text(NEW_TEXT)
    monkeypatch.chdir(tmp_path)
    with read_only(outdir):
        code, out, err = run("render")
    assert code == 1 and "cannot write" in err and ("Read-only file system" in err or "Permission denied" in err), err
    assert "Traceback" not in out + err
    assert roles(outdir) == sites["old"]


@pytest.mark.parametrize(
    "planted",
    ["submit/maps", "submit/10-pool.conf", "execute-batch/80-start.conf", ".confgen-lock", ".confgen-manifest", "execute-gpu"],
)
def test_a_planted_symlink_is_refused_and_nothing_is_written_through_it(sites, tmp_path, run, monkeypatch, planted):  # type: ignore[no-untyped-def]
    outdir = fresh_output(sites, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "10-pool.conf").write_text("precious\n")
    target = outdir / planted
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    os.symlink(elsewhere if planted.endswith(("maps", "gpu")) else elsewhere / "10-pool.conf", target)
    before = {p.relative_to(outdir).as_posix(): (p.is_symlink(), p.read_bytes() if p.is_file() and not p.is_symlink() else None) for p in outdir.rglob("*")}
    (tmp_path / "site.yaml").write_text(NEW_TEXT)
    monkeypatch.chdir(tmp_path)
    code, out, err = run("render")
    assert code == 1 and f"output/{planted} is a symbolic link" in err and "Traceback" not in out + err, err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["10-pool.conf"] and (elsewhere / "10-pool.conf").read_text() == "precious\n"
    after = {p.relative_to(outdir).as_posix(): (p.is_symlink(), p.read_bytes() if p.is_file() and not p.is_symlink() else None) for p in outdir.rglob("*")}
    assert after == before
