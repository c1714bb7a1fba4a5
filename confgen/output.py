"""Planning and applying the writes under the output directory; the only module that writes files.

confgen owns the role directories it renders and those listed in its manifest from the last run;
it touches nothing else in the output directory but its own dot-files (manifest, lock, leftovers).

A role directory is replaced as a whole, never file by file: the new directory is built beside it
(`.confgen-new-<token>-<role>`), every file and the directory are fsynced, and the two are swapped
with one `renameat2(RENAME_EXCHANGE)`; the old one is then removed. A reader (Puppet, or a human)
sees the old files or the new files of a role, never a mix. Where the file system cannot exchange,
the old directory is renamed aside first and a leftover is put back by the next run. A role with
nothing to change is not touched. Renders into one output directory take turns through a lock file.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import os
import secrets
import shutil
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confgen.errors import OutputError

if TYPE_CHECKING:
    from confgen.render import Fragment

MANIFEST = ".confgen-manifest"
LOCK = ".confgen-lock"
NEW_PREFIX = ".confgen-new-"
OLD_PREFIX = ".confgen-old-"
TEMP_PREFIX = ".confgen-tmp-"
LOCK_TIMEOUT = 120.0
_TOKEN_LEN = 8  # hex digits in the names of the directories being swapped


@dataclasses.dataclass(frozen=True, order=True)
class Change:
    """`action` is create, update, unchanged or stale (a file confgen wrote before and no longer renders)."""

    path: str  # relative to the output directory, '/'-separated
    action: str
    data: bytes | None = None  # the rendered bytes; None for stale files


def plan(fragments: Iterable[Fragment], outdir: Path) -> list[Change]:
    """What a render would do. Reads only; refuses symbolic links where confgen would write."""
    rendered = {f"{f.role}/{f.name}": f.text.encode("utf-8") for f in fragments}
    roles = {rel.split("/", 1)[0] for rel in rendered}
    owned = roles | _manifest_roles(outdir)
    _refuse_links(outdir, owned)
    changes: list[Change] = []
    for rel, data in sorted(rendered.items()):
        target = outdir / rel
        if not target.exists():
            changes.append(Change(rel, "create", data))
        elif _read(target) != data:
            changes.append(Change(rel, "update", data))
        else:
            changes.append(Change(rel, "unchanged", data))
    for role in sorted(owned):
        role_dir = outdir / role
        if not role_dir.is_dir():
            continue
        for path in sorted(role_dir.rglob("*")):
            rel = path.relative_to(outdir).as_posix()
            if not path.is_dir() and rel not in rendered:
                changes.append(Change(rel, "stale"))
    return changes


def write(fragments: Iterable[Fragment], outdir: Path, *, lock_timeout: float = LOCK_TIMEOUT) -> tuple[list[Change], list[str]]:
    """Plan and apply under the output directory's lock.

    Returns the plan and what was recovered from an interrupted run. Raises OutputError naming the
    path and the cause; a role directory is then either still old or already new.
    """
    frags = list(fragments)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir} is a file, not a directory: nothing was written; name a directory with -o (default: output)")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output directory {exc.filename or outdir}: {exc.strerror or exc}; nothing was written") from exc
    try:
        with _locked(outdir, lock_timeout):
            recovered = _recover(outdir)
            changes = plan(frags, outdir)
            _apply(changes, outdir)
    except OSError as exc:
        where = exc.filename or outdir
        raise OutputError(f"cannot write {where}: {exc.strerror or exc}; every role directory holds either its old or its new files") from exc
    return changes, recovered


def _apply(changes: list[Change], outdir: Path) -> None:
    rendered: dict[str, dict[str, bytes]] = {}
    touched: set[str] = set()
    for change in changes:
        role, rel = change.path.split("/", 1)
        if change.data is not None:
            rendered.setdefault(role, {})[rel] = change.data
        if change.action != "unchanged":
            touched.add(role)
    for role in sorted(touched):
        if role in rendered:
            _replace_role(outdir, role, rendered[role])
        else:
            _remove_role(outdir, role)
    for role in sorted(_manifest_roles(outdir) - set(rendered)):
        if (outdir / role).is_dir():
            _remove_role(outdir, role)
    manifest = "".join(f"{r}\n" for r in sorted(rendered)).encode()
    if _read(outdir / MANIFEST) != manifest:
        _write_file_atomic(outdir / MANIFEST, manifest)
        _fsync_dir(outdir)


def _replace_role(outdir: Path, role: str, files: dict[str, bytes]) -> None:
    token = secrets.token_hex(_TOKEN_LEN // 2)
    new = outdir / f"{NEW_PREFIX}{token}-{role}"
    try:
        _build_dir(new, files)
        target = outdir / role
        if target.exists():
            _swap(new, target, outdir / f"{OLD_PREFIX}{token}-{role}")
            _fsync_dir(outdir)
            shutil.rmtree(new if new.exists() else outdir / f"{OLD_PREFIX}{token}-{role}")
        else:
            os.rename(new, target)
            _fsync_dir(outdir)
    except BaseException:
        aside = outdir / f"{OLD_PREFIX}{token}-{role}"
        if aside.is_dir() and not (outdir / role).exists():
            os.rename(aside, outdir / role)  # the fallback swap failed half-way: put the old files back
        shutil.rmtree(new, ignore_errors=True)  # the unfinished build, or the old files after the swap
        raise


def _build_dir(root: Path, files: dict[str, bytes]) -> None:
    os.mkdir(root)
    os.chmod(root, 0o755)
    dirs = {root}
    for rel, data in sorted(files.items()):
        path = root / rel
        for parent in reversed(path.relative_to(root).parents[:-1]):
            sub = root / parent
            if sub not in dirs:
                os.mkdir(sub)
                os.chmod(sub, 0o755)
                dirs.add(sub)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            os.fchmod(fd, 0o644)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    for d in sorted(dirs, key=lambda p: -len(p.parts)):
        _fsync_dir(d)


def _remove_role(outdir: Path, role: str) -> None:
    aside = outdir / f"{OLD_PREFIX}{secrets.token_hex(_TOKEN_LEN // 2)}-{role}"
    os.rename(outdir / role, aside)
    _fsync_dir(outdir)
    shutil.rmtree(aside)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _load_renameat2() -> Any:
    return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)  # glibc >= 2.28


_renameat2 = _load_renameat2()


def _swap(new: Path, target: Path, aside: Path) -> None:
    """Swap `new` and `target` in one step; afterwards the old directory is at `new` (or at `aside`)."""
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(target), _RENAME_EXCHANGE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), str(target))
    # No atomic exchange here: the old directory goes aside first; a kill in between leaves the role
    # missing with its old files at `aside`, which the next run puts back (_recover).
    os.rename(target, aside)
    os.rename(new, target)


def _recover(outdir: Path) -> list[str]:
    """Finish what an interrupted run left: unswapped new directories go, old ones go or come back."""
    notes = []
    for entry in sorted(os.scandir(outdir), key=lambda e: e.name):
        name = entry.name
        path = Path(entry.path)
        if name.startswith(NEW_PREFIX):
            _remove_any(path)
            notes.append(f"removed {path}, an unfinished directory of an interrupted run")
        elif name.startswith(OLD_PREFIX):
            role = name[len(OLD_PREFIX) + _TOKEN_LEN + 1 :]
            target = outdir / role
            if role and not target.exists() and not entry.is_symlink() and entry.is_dir():
                os.rename(path, target)
                notes.append(f"restored {target} from {path}, left aside by an interrupted run")
            else:
                _remove_any(path)
                notes.append(f"removed {path}, a replaced directory of an interrupted run")
        elif name.startswith(TEMP_PREFIX):
            _remove_any(path)
            notes.append(f"removed {path}, a temporary file of an interrupted run")
    if notes:
        _fsync_dir(outdir)
    return notes


def _remove_any(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(outdir: Path, timeout: float) -> Iterator[None]:
    path = outdir / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{path} is a symbolic link; confgen will not follow it. Remove the link.") from exc
        raise
    held = False
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                    raise OutputError(f"{outdir} is being written by another confgen render (pid {holder}); waited {timeout:.0f} s, wrote nothing") from None
                time.sleep(0.05)
        held = True
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)  # names the holder to a render that waits
        yield
    finally:
        if held:
            os.ftruncate(fd, 0)  # emptied again: two renders of one site leave the same bytes
        os.close(fd)  # closing releases the lock


def _write_file_atomic(target: Path, data: bytes) -> None:
    tmp = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            os.fchmod(fd, 0o644)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _manifest_roles(outdir: Path) -> set[str]:
    data = _read(outdir / MANIFEST) if not (outdir / MANIFEST).is_symlink() else None
    if data is None:
        return set()
    return {line for line in data.decode("utf-8", "replace").split("\n") if line and "/" not in line and not line.startswith(".")}


def _refuse_links(outdir: Path, roles: set[str]) -> None:
    """confgen writes only into real directories it owns: a symbolic link there is refused, not followed."""
    for name in (MANIFEST, LOCK):
        if (outdir / name).is_symlink():
            raise OutputError(f"{outdir / name} is a symbolic link (to {os.readlink(outdir / name)}); confgen will not follow it. Remove the link.")
    for role in sorted(roles):
        role_dir = outdir / role
        if role_dir.is_symlink():
            raise OutputError(f"{role_dir} is a symbolic link (to {os.readlink(role_dir)}); confgen writes only into real directories it owns. Remove the link.")
        if role_dir.exists() and not role_dir.is_dir():
            raise OutputError(f"{role_dir} is not a directory; confgen writes each role into a directory of its own. Move it away.")
        for dirpath, dirnames, filenames in os.walk(role_dir):
            for name in sorted(dirnames + filenames):
                path = Path(dirpath) / name
                mode = path.lstat().st_mode
                if stat.S_ISLNK(mode):
                    raise OutputError(f"{path} is a symbolic link (to {os.readlink(path)}); confgen's role directories hold only files it wrote, and it will not follow or keep a link. Remove it.")
