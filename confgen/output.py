"""Planning and applying the writes under the output directory; the only module that writes files.

confgen owns the role directories it renders and those listed in its manifest from the last run.
Inside them it creates, updates and removes files; it touches nothing else. Each file is written to
a temporary file in the same directory and renamed over the old one; unchanged files are left alone.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from confgen.errors import OutputError
from confgen.render import Fragment

MANIFEST = ".confgen-manifest"
TEMP_PREFIX = ".confgen-tmp-"


@dataclasses.dataclass(frozen=True, order=True)
class Change:
    """`action` is create, update, unchanged or stale (a file confgen wrote before and no longer renders)."""

    path: str  # relative to the output directory, '/'-separated
    action: str
    data: bytes | None = None


def plan(fragments: Iterable[Fragment], outdir: Path) -> list[Change]:
    frags = list(fragments)
    rendered = {f"{f.role}/{f.name}": f.text.encode("utf-8") for f in frags}
    roles = {f.role for f in frags}
    _refuse_links(outdir, roles)
    changes: list[Change] = []
    for rel, data in sorted(rendered.items()):
        target = outdir / rel
        if not target.exists():
            changes.append(Change(rel, "create", data))
        elif _read(target) != data:
            changes.append(Change(rel, "update", data))
        else:
            changes.append(Change(rel, "unchanged"))
    owned = set(roles) | _manifest_roles(outdir)
    for role in sorted(owned):
        role_dir = outdir / role
        if role_dir.is_symlink() or not role_dir.is_dir():
            continue
        for path in sorted(role_dir.rglob("*")):
            rel = path.relative_to(outdir).as_posix()
            if (path.is_file() or path.is_symlink()) and rel not in rendered:
                changes.append(Change(rel, "stale"))
    return changes


def apply(changes: list[Change], outdir: Path) -> None:
    """Carry out a plan. Raises OutputError naming the file and the cause; files already replaced stay new."""
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        for change in changes:
            target = outdir / change.path
            if change.action in ("create", "update"):
                assert change.data is not None
                _write_atomic(target, change.data)
            elif change.action == "stale":
                target.unlink(missing_ok=True)
        _remove_empty_dirs(outdir, changes)
        roles = sorted({c.path.split("/", 1)[0] for c in changes if c.action != "stale"})
        manifest = "".join(f"{r}\n" for r in roles).encode()
        manifest_path = outdir / MANIFEST
        if not manifest_path.exists() or _read(manifest_path) != manifest:
            _write_atomic(manifest_path, manifest)
    except OSError as exc:
        where = exc.filename or outdir
        raise OutputError(f"cannot write {where}: {exc.strerror or exc}; files not yet replaced keep their old content") from exc


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _manifest_roles(outdir: Path) -> set[str]:
    data = _read(outdir / MANIFEST)
    if data is None:
        return set()
    return {line for line in data.decode("utf-8", "replace").split("\n") if line and "/" not in line and not line.startswith(".")}


def _refuse_links(outdir: Path, roles: set[str]) -> None:
    for role in sorted(roles):
        role_dir = outdir / role
        if role_dir.is_symlink():
            raise OutputError(f"{role_dir} is a symbolic link; confgen writes only into real directories it owns. Remove the link.")
        maps = role_dir / "maps"
        if maps.is_symlink():
            raise OutputError(f"{maps} is a symbolic link; confgen writes only into real directories it owns. Remove the link.")


def _remove_empty_dirs(outdir: Path, changes: list[Change]) -> None:
    dirs = sorted({(outdir / c.path).parent for c in changes if c.action == "stale"}, key=lambda p: -len(p.parts))
    for d in dirs:
        while d != outdir and d.is_dir() and not any(d.iterdir()):
            d.rmdir()
            d = d.parent
