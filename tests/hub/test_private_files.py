"""confgen.hub.private_files on the real filesystem, as root, against a user (uid 65534) who owns the
private directory and plants symlinks in it: nothing is ever chowned through one, and an unsafe state
directory is refused with a message that says why."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from confgen.hub import private_files
from confgen.hub.private_files import UnsafePathError

NOBODY = (65534, 65534)
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as the hub runs")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    os.chmod(tmp_path, 0o755)
    state = tmp_path / "state"
    private_files.ensure_state_dir(state)
    return state


@pytest.fixture
def root_file(tmp_path: Path) -> Path:
    target = tmp_path / "root-owned"
    target.write_text("root's\n")
    return target


def test_a_symlink_planted_where_the_file_goes_is_refused_and_nothing_is_chowned(state_dir: Path, root_file: Path) -> None:
    directory = private_files.make_private_dir(state_dir, "server", NOBODY)
    assert (os.stat(directory).st_uid, os.stat(directory).st_mode & 0o777) == (NOBODY[0], 0o700)
    os.symlink(root_file, directory / "notebook")
    with pytest.raises(UnsafePathError, match="already holds 'notebook'"):
        private_files.write_private(directory, "notebook", "secret\n", 0o700, NOBODY)
    assert os.stat(root_file).st_uid == 0 and root_file.read_text() == "root's\n"


def _racer(state_dir: Path, target: Path) -> int:
    """A process of the user that swaps every file root creates in its directories for a symlink to `target`."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setgid(NOBODY[1])
        os.setuid(NOBODY[0])
        while True:
            for server in os.listdir(state_dir):
                path = state_dir / server / "notebook"
                with contextlib.suppress(OSError):
                    os.unlink(path)
                with contextlib.suppress(OSError):
                    os.symlink(target, path)
    finally:
        os._exit(0)


def test_a_user_racing_to_swap_the_file_for_a_symlink_never_gets_a_root_file_chowned(state_dir: Path, root_file: Path) -> None:
    os.chmod(state_dir, 0o755)  # readable, as in the review: the racer sees each new directory at once
    racer = _racer(state_dir, root_file)
    written = refused = 0
    try:
        deadline = time.monotonic() + 4
        i = 0
        while time.monotonic() < deadline:
            directory = private_files.make_private_dir(state_dir, f"s{i}", NOBODY)
            i += 1
            try:
                private_files.write_private(directory, "notebook", "secret\n", 0o700, NOBODY)
                written += 1
            except UnsafePathError:
                refused += 1
            shutil.rmtree(directory, ignore_errors=True)  # keeps the racer's listdir short, so it races every file
    finally:
        os.kill(racer, signal.SIGKILL)
        os.waitpid(racer, 0)
    assert os.stat(root_file).st_uid == 0, "root chowned its own file to the user through a symlink"
    assert root_file.read_text() == "root's\n"
    print(f"{written} written, {refused} refused (symlink planted first), target still root's")


@pytest.mark.parametrize("how", ["symlink", "world-writable", "group-writable", "user-owned", "below a user's directory", "relative"])
def test_an_unsafe_state_dir_is_refused_with_its_reason(tmp_path: Path, how: str) -> None:
    os.chmod(tmp_path, 0o755)
    real = tmp_path / "real"
    real.mkdir(mode=0o711)
    state = tmp_path / "state"
    if how == "symlink":
        os.symlink(real, state)
    elif how == "below a user's directory":
        parent = tmp_path / "users"
        parent.mkdir(mode=0o755)
        os.chown(parent, *NOBODY)
        state = parent / "state"
        state.mkdir(mode=0o711)
    elif how == "relative":
        state = Path("state")
    else:
        state.mkdir()
        os.chmod(state, {"world-writable": 0o777, "group-writable": 0o775, "user-owned": 0o711}[how])
        if how == "user-owned":
            os.chown(state, *NOBODY)
    reason = {"symlink": "is a symlink", "relative": "not an absolute path", "below a user's directory": "where others could rename it"}.get(how, "writable by no one else")
    with pytest.raises(UnsafePathError, match=reason):
        private_files.ensure_state_dir(state)


def test_a_missing_state_dir_is_created_0711_and_accepted(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    state = tmp_path / "a" / "state"
    private_files.ensure_state_dir(state)
    assert os.stat(state).st_mode & 0o777 == 0o711
