"""HTCondor's knobs, as confgen knows them: a table derived from HTCondor's own sources.

htcondor_knobs.json is written by scripts/gen_knob_table.py from HTCondor's param_info.in, the
configuration chapters of its manual and the pinned htcondor2 wheel (the commit is in the file). A knob
is known when its name is in the table, matches a documented pattern (`SUBMIT_REQUIREMENT_<Name>`,
`STARTD_CRON_<JobName>_ARGS`...), or is `<SUBSYS or local name>.<known knob>` (HTCondor's prefix rule).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from pathlib import Path
from typing import Any

TABLE = Path(__file__).resolve().parent / "htcondor_knobs.json"

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
#: Types of param_info.in whose value HTCondor evaluates (param_boolean, param_integer, param_double):
#: a ClassAd expression that must come out as that type.
TYPED: dict[str, type | tuple[type, ...]] = {"bool": bool, "int": int, "long": int, "double": (int, float)}


@dataclasses.dataclass(frozen=True)
class Knob:
    """What the table says about one knob: how HTCondor reads its value."""

    name: str
    #: `string`, `path`, `bool`, `int`, `long` or `double` (param_info.in's types)
    type: str
    #: HTCondor evaluates the value as a ClassAd expression
    expression: bool
    #: the documented pattern that matched (`SUBMIT_REQUIREMENT_<Name>`), or None for a named knob
    pattern: str | None = None

    @property
    def evaluated(self) -> bool:
        """The value is parsed as a ClassAd expression, typed or not."""
        return self.expression or self.type in TYPED


@functools.cache
def table() -> dict[str, Any]:
    text = TABLE.read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@functools.cache
def _patterns() -> list[tuple[re.Pattern[str], str, bool]]:
    # Longest documented name first: `SUBMIT_REQUIREMENT_<Name>_REASON` before `SUBMIT_REQUIREMENT_<Name>`.
    rows = sorted(table()["patterns"], key=lambda p: (-len(p["name"]), p["name"]))
    return [(re.compile(p["regex"]), p["name"], bool(p["expression"])) for p in rows]


def lookup(name: str) -> Knob | None:
    """The knob `name` (any case), or None if HTCondor does not know it."""
    if not NAME.fullmatch(name):
        return None
    upper = name.upper()
    if "." in upper:  # <SUBSYS>.KNOB or <LOCALNAME>.KNOB: the knob for that daemon only
        inner = lookup(upper.split(".", 1)[1])
        return dataclasses.replace(inner, name=upper) if inner is not None else None
    row = table()["knobs"].get(upper)
    if row is not None:
        return Knob(upper, row["type"], bool(row["expression"]))
    for regex, pattern, expression in _patterns():
        if regex.fullmatch(upper):
            return Knob(upper, "string", expression, pattern)
    return None


def close_names(name: str) -> list[str]:
    """Known knob names that look like `name` (a misspelling), best first."""
    import difflib  # only for a misspelling: importing it costs a few ms of every run

    upper = name.upper().rsplit(".", 1)[-1]
    return difflib.get_close_matches(upper, list(table()["knobs"]), n=3, cutoff=0.8)


def source() -> str:
    """Where the table comes from, for messages: `htcondor/htcondor 25.x@589a5b38`."""
    src = table()["source"]
    return f"htcondor/htcondor {src['ref']}@{src['commit'][:8]}"


_MACRO_REF = re.compile(r"\$(?:[A-Z]+)?\(([A-Za-z_][A-Za-z0-9_.]*)")


def references(text: str) -> set[str]:
    """The knobs a value refers to: `$(NAME)`, `$(NAME:default)`, `$INT(NAME)`... (upper case)."""
    return {r.upper() for r in _MACRO_REF.findall(text)}


def default_references(name: str) -> list[str]:
    """The knobs HTCondor's built-in default of `name` refers to (param_info.in)."""
    row = table()["knobs"].get(name.upper(), {})
    return list(row.get("refs", []))
