"""Semantic checks of images resolved on the node (`containers.images.<OS>: {path, newest}`): the path
and the glob go, unquoted, into an `include command` line (split on whitespace by HTCondor, no shell)
and into the rendered script's arguments."""

from __future__ import annotations

import re
from collections.abc import Iterator

from confgen.diagnostics import Diagnostic
from confgen.site.model import Site

#: What the node's script accepts in a path; anything else it refuses (confgen/render/newest_images.py).
PATH_CHARS = re.compile(r"/[A-Za-z0-9._+/-]*")
#: Build names the script considers, plus the glob's own characters.
GLOB_CHARS = re.compile(r"[A-Za-z0-9._+*?\[\]!-]+")


def path_problem(path: str) -> str | None:
    """Why `path` (without trailing '/', as the model keeps it) cannot hold the builds (None if it can)."""
    if path == "/":
        return "'/' cannot hold the builds; name the directory that does"
    if not path.startswith("/"):
        return f"{path!r} is not an absolute path; write it starting with '/'"
    if not PATH_CHARS.fullmatch(path):
        return (f"{path!r} has characters the node's resolver refuses; a path resolved on the node may hold only "
                "letters, digits, '.', '_', '+', '-' and '/'")
    if "//" in path or any(seg in (".", "..") for seg in path.split("/")):
        return f"{path!r} has an empty, '.' or '..' segment; write the directory plainly"
    return None


def glob_problem(glob: str) -> str | None:
    if "/" in glob:
        return f"{glob!r} contains '/': the glob names builds directly under path, it cannot reach into or out of other directories"
    if ".." in glob:
        return f"{glob!r} contains '..', which could name the parent of path"
    if glob.startswith("."):
        return f"{glob!r} starts with '.'; the node skips hidden names"
    if not GLOB_CHARS.fullmatch(glob):
        return (f"{glob!r} has characters a build name cannot hold; use letters, digits, '.', '_', '+', '-' and the "
                "glob characters * ? [ ] !")
    return None


def newest_problems(site: Site) -> Iterator[Diagnostic]:
    for name, newest in site.newest.items():
        where = ("containers", "images", name)
        if problem := path_problem(newest.path):
            yield site.diag((*where, "path"), f"image path {problem}")
        if problem := glob_problem(newest.glob):
            yield site.diag((*where, "newest"), f"the glob {problem}")
