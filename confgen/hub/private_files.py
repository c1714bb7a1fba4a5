"""Files the hub (root) writes for a user, in a directory that user owns.

A user owns their server's private directory, so they can unlink anything root creates there and put
a symlink in its place: root must never act on a path there after creating it. Every write goes
through file descriptors — the directory opened with O_NOFOLLOW, the file created relative to it
(dir_fd) with O_EXCL|O_NOFOLLOW, owner and mode set with fchown/fchmod on the open file — so a planted
symlink is refused and nothing is chowned through one.

The state directory above the private directories must be the hub's: owned by root or the hub's
account, writable by no one else, not a symlink, with every directory above it safe too (a user who
could rename an entry on the way could swap a private directory for one of theirs).

Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePathError(RuntimeError):
    pass


def _trusted(st: os.stat_result) -> bool:
    return st.st_uid in (0, os.geteuid())


def _describe(st: os.stat_result) -> str:
    return f"owner uid {st.st_uid}, mode {stat.filemode(st.st_mode)}"


def check_state_dir(path: str | Path) -> None:
    """UnsafePathError unless `path` is a real directory of root or the hub's account that no one else
    can write, below directories no one else can rename entries in."""
    path = Path(path)
    if not path.is_absolute():
        raise UnsafePathError(f"state_dir {str(path)!r} is not an absolute path")
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise UnsafePathError(f"state_dir {str(path)!r}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePathError(f"state_dir {str(path)!r} is a symlink; give the spawner a real directory")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(f"state_dir {str(path)!r} is not a directory")
    if not _trusted(st) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafePathError(f"state_dir {str(path)!r} ({_describe(st)}) must be owned by root or the hub's account "
                              "and writable by no one else (chmod 0711)")
    # Above it: a directory others may write is safe only with the sticky bit and a trusted owner (/tmp).
    real_parent = Path(os.path.realpath(path.parent))
    for parent in (real_parent, *real_parent.parents):
        pst = os.stat(parent)
        writable = pst.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if not _trusted(pst) or (writable and not pst.st_mode & stat.S_ISVTX):
            raise UnsafePathError(f"state_dir {str(path)!r} lies below {str(parent)!r} ({_describe(pst)}), "
                                  "where others could rename it")


def ensure_state_dir(path: str | Path) -> None:
    """Create the state directory (mode 0711) if it is missing, then check it (an existing one too)."""
    path = Path(path)
    if not os.path.lexists(path):
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o711)
    check_state_dir(path)


@contextlib.contextmanager
def open_dir(path: str | Path) -> Iterator[int]:
    """A directory's fd, refusing a symlink in its last component."""
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as exc:
        raise UnsafePathError(f"{str(path)!r} is not a directory the hub can open without following a symlink: {exc.strerror}") from None
    try:
        yield fd
    finally:
        os.close(fd)


def make_private_dir(state_dir: str | Path, name: str, ids: tuple[int, int] | None) -> Path:
    """state_dir/name, mode 0700, given to `ids` (uid, gid) when not None."""
    check_state_dir(state_dir)
    with open_dir(state_dir) as parent:
        os.mkdir(name, 0o700, dir_fd=parent)
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        try:
            if ids is not None:
                os.fchown(fd, *ids)
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)
    return Path(state_dir) / name


def write_private(directory: str | Path, name: str, text: str, mode: int, ids: tuple[int, int] | None) -> Path:
    """Create directory/name (it must not exist, and must not be a symlink) with `text`, then give it
    to `ids` and set `mode` — all on the open file, never by path."""
    if "/" in name or name in ("", ".", ".."):
        raise UnsafePathError(f"{name!r} is not a file name")
    with open_dir(directory) as parent:
        dst = os.fstat(parent)
        owners = {os.geteuid()} if ids is None else {ids[0], os.geteuid()}
        if dst.st_uid not in owners or dst.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UnsafePathError(f"{str(directory)!r} ({_describe(dst)}) is not a private directory of its user")
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent)
        except FileExistsError:
            raise UnsafePathError(f"{str(directory)!r} already holds {name!r} (a planted file or symlink?); not writing it") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        if ids is not None:
            os.fchown(f.fileno(), *ids)
        os.fchmod(f.fileno(), mode)
        f.write(text)
    return Path(directory) / name
