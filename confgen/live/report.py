"""`confgen diff --live` printed: the knobs confgen takes over first, then what changes with them,
then what goes back to HTCondor's default."""

from __future__ import annotations

import dataclasses
import json

from confgen.live.diff import LiveDiff

TITLES = {
    "confgen": "confgen takes over",
    "consequence": "changed as a consequence (they refer to knobs confgen sets)",
    "removed": "removed: set today only in the config directory confgen replaces, back to HTCondor's default",
}
MARK = {"added": "+", "changed": "~", "removed": "-"}


def as_text(diff: LiveDiff, source: str) -> str:
    out = [f"confgen diff --live: role {diff.role} on {diff.host or 'the host'} (today: {source}): {len(diff.changes)} knob(s) change\n"]
    for group, title in TITLES.items():
        changes = diff.group(group)
        if not changes:
            continue
        out.append(f"\n{title} ({len(changes)}):\n")
        for c in changes:
            out.append(f"  {MARK[c.kind]} {c.name}\n")
            where = "" if c.before is None else f"   [{c.today_at}]"
            out.append(f"      today: {_shown(c.before)}{where}\n")
            out.append(f"      after: {_shown(c.after)}\n")
    out.append(f"\nconfgen sets {diff.same_as_confgen} more knob(s) to the value they have today.\n")
    return "".join(out)


def as_json(diff: LiveDiff, source: str) -> str:
    return json.dumps({"host": diff.host, "role": diff.role, "today": source, "same_as_confgen": diff.same_as_confgen,
                       "changes": [dataclasses.asdict(c) for c in diff.changes]}, indent=2, sort_keys=True) + "\n"


def _shown(value: str | None) -> str:
    return "(not set)" if value is None else repr(value) if value.strip() != value or value == "" else value
