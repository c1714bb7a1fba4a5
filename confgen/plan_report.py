"""How a render's plan is shown: file names with their action, a unified diff of each change, or
JSON. Used by `render --check`, `render --dry-run` and `render` itself (confgen/cli.py prints it)."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from confgen.output import Change


def changed(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.action != "unchanged"]


def as_lines(changes: list[Change], outdir: Path) -> str:
    return "".join(f"{c.action:9} {outdir / c.path}\n" for c in changes)


def as_diff(changes: list[Change], outdir: Path) -> str:
    """A unified diff per changed file: what is in outdir now, what the render would write."""
    out: list[str] = []
    for c in changed(changes):
        path = outdir / c.path
        old = _text(path) if c.action in ("update", "stale") else ""
        new = c.data.decode("utf-8") if c.data is not None else ""
        out += difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                    fromfile=str(path) if c.action != "create" else "/dev/null",
                                    tofile=str(path) if c.action != "stale" else "/dev/null")
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n\\ No newline at end of file\n"
    return "".join(out)


def as_json(changes: list[Change], outdir: Path, summary: str, *, diff: bool, state: str) -> str:
    """One JSON document: the validation summary, the state (up-to-date, would-change, written) and the
    changes (with a diff each when asked)."""
    items = []
    for c in changed(changes):
        item: dict[str, str] = {"path": str(outdir / c.path), "action": c.action}
        if diff:
            item["diff"] = as_diff([c], outdir)
        items.append(item)
    return json.dumps({"summary": summary, "state": state, "changes": items}, indent=2, sort_keys=True) + "\n"


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
