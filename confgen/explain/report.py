"""`confgen explain` printed: submit, then each class."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from confgen.explain.decide import CLAUSE_MEANING, ClassDecision, Explanation


def as_text(e: Explanation) -> str:
    out = [f"job: {_ad(e.job)}\n"]
    if e.accepted is True:
        added = {k: v for k, v in e.stored.items() if k not in e.job}
        out.append("submit: accepted" + (f"; the schedd sets {_ad(added)}" if added else "") + "\n")
    else:
        out.append(f"submit: REFUSED: {e.reason}\n" if e.accepted is False else f"submit: undecided: {e.reason}\n")
    out.append(f"node assumed: {_ad(e.node) or 'as the role publishes it'} (healthy, no reboot due, admin switch on)\n")
    for c in e.classes:
        out.append(f"\nclass {c.node_class} ({c.role}): {_verdict(c)}\n")
        out.append(f"  slot:    {_ad(c.slot)}\n")
        for name, value in c.clauses:
            mark = "ok " if value is True else "NO " if value is False else "?? "
            out.append(f"  {mark} {name:<12} {CLAUSE_MEANING.get(name, '')}{'' if value in (True, False) else f' ({value})'}\n")
        mark = "ok " if c.matches is True else "NO " if c.matches is False else "?? "
        out.append(f"  {mark} {'REQUIREMENTS':<12} the job's own Requirements: {c.requirements}{'' if c.matches in (True, False) else f' ({c.matches})'}\n")
        out.extend(f"        refused by: {clause}\n" for clause in c.refusing)
        if c.runs:
            out.append(f"  image:   {c.image}\n  binds:   {', '.join(c.binds)}\n")
            out.append(f"  threads: {' '.join(f'{k}={v}' for k, v in c.threads.items())}\n")
    if e.accepted is True and not any(c.runs for c in e.classes):
        out.append("\nno class starts this job: it would stay idle\n")
    return "".join(out)


def _verdict(c: ClassDecision) -> str:
    if c.runs:
        return "starts"
    why = [w for w, no in (("the slot's START refuses the job", c.start is not True), ("the job's Requirements refuse the slot", c.matches is not True)) if no]
    return "does NOT start: " + " and ".join(why)


def as_json(e: Explanation) -> str:
    return json.dumps(_plain(e), indent=2, sort_keys=True) + "\n"


def _ad(attrs: dict[str, Any]) -> str:
    return "; ".join(f"{k} = {json.dumps(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else v}" for k, v in attrs.items())


def _plain(value: Any) -> Any:
    """JSON data; a ClassAd expression (an attribute of a dumped job) as its text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)
