#!/usr/bin/env python3
"""Derive confgen's table of HTCondor knobs (confgen/site/htcondor_knobs.json) from HTCondor's sources.

    scripts/gen_knob_table.py GIT_DIR REF > confgen/site/htcondor_knobs.json

GIT_DIR is a clone of github.com/htcondor/htcondor, REF the branch or tag of the series confgen pins
(25.x). Three sources, all HTCondor's own:
- src/condor_utils/param_info.in: every knob with a built-in default, and its type (bool, int, ...);
- docs/admin-manual/configuration/*.rst: every documented knob (`:macro-def:`), including the knobs that
  have no default and the patterned ones (`SUBMIT_REQUIREMENT_<Name>`, `STARTD_CRON_<JobName>_ARGS`,
  `SEC_*_AUTHENTICATION`...); a knob whose description opens with "expression" (for example
  MOUNT_UNDER_SCRATCH: "A ClassAd expression, which when evaluated ...") is marked as a ClassAd expression;
- the installed htcondor2 wheel's built-in table (`htcondor2.param.keys()`), the exact release confgen pins.
Run with the project's interpreter so that the last source is the pinned wheel.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

_MACRO_DEF = re.compile(r":macro-def:`([^`]+)`")
_SECTION = re.compile(r"^\[([^\]]+)\]\s*$")
#: Opening words of a documented description that make the knob a ClassAd expression.
_EXPRESSION = re.compile(r"^(A|An|This|The)\s+(\w+\s+){0,3}expression\b|\bClassAd expression\b|\bcan be an? (\w+\s+){0,2}expression\b", re.IGNORECASE)
_OPENING_CHARS = 400
#: Any mention of an expression in the first sentence (not a regular expression), within its first characters.
_MENTION = re.compile(r"(?<!regular )\bexpression\b", re.IGNORECASE)
_MENTION_CHARS = 160
#: Documented as "a floating point value" and the like, but read by HTCondor as a ClassAd expression.
_ALSO_EXPRESSIONS = {"RANK"}
#: A documented placeholder: `<Name>`, `<SUBSYS>`, `<N>`, `xxx`, `*`.
_PLACEHOLDER = re.compile(r"<[^>]+>|\bxxx+\b|\*")


def git_show(git_dir: str, ref: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{ref}:{path}"], check=True, capture_output=True, text=True).stdout


_MACRO_REF = re.compile(r"\$(?:[A-Z]+)?\(([A-Za-z_][A-Za-z0-9_.]*)")


def param_info(text: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """name -> type of every plain knob of param_info.in (metaknobs, `$...`, are not knobs), and
    name -> the knobs its default refers to (`$(LOCAL_DIR)`), so that confgen can see macro cycles."""
    types: dict[str, str] = {}
    refs: dict[str, list[str]] = {}
    name: str | None = None
    block_end: str | None = None
    for line in text.splitlines():
        if block_end is not None:  # `default: @end` ... `@end`
            if line.strip() == block_end:
                block_end = None
            elif name:
                refs[name.upper()] += [r.upper() for r in _MACRO_REF.findall(line)]
            continue
        m = _SECTION.match(line)
        if m:
            name = m.group(1) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", m.group(1)) else None
            if name:
                types.setdefault(name.upper(), "string")
                refs.setdefault(name.upper(), [])
        elif name and line.startswith("type="):
            types[name.upper()] = line.split("=", 1)[1].strip()
        elif name and line.startswith("default="):
            refs[name.upper()] += [r.upper() for r in _MACRO_REF.findall(line)]
        elif name and re.match(r"default:\s*@", line):
            block_end = line.split(":", 1)[1].strip()
    return types, {k: sorted(set(v)) for k, v in refs.items() if v}


def documented(text: str) -> dict[str, bool]:
    """documented name (placeholders kept) -> whether its description opens as a ClassAd expression."""
    found: dict[str, bool] = {}
    for m in _MACRO_DEF.finditer(text):
        name = re.sub(r"\[[^\]]*\]$", "", m.group(1)).strip()
        if name.islower() or not re.search(r"[A-Za-z]", _PLACEHOLDER.sub("", name)):
            continue  # lower-case words (token claims) and bare placeholders (`<SUBSYS>`) are not knobs
        # A faux-definition (`SYSTEM_PERIODIC_REMOVE_<Name>` beside SYSTEM_PERIODIC_REMOVE) shares the description that follows.
        rest = re.sub(r"^(\s*(\.\. faux-definition::|:macro-def:`[^`]+`))+", "", text[m.end():m.end() + _OPENING_CHARS])
        opening = ". ".join(" ".join(rest.split()).split(". ")[:2])
        first = opening.split(". ")[0][:_MENTION_CHARS]
        # `..._NAMES` knobs are lists of names, each naming an expression knob: not expressions themselves.
        expr = not name.upper().endswith("_NAMES") and bool(_EXPRESSION.search(opening) or _MENTION.search(first))
        found[name] = found.get(name, False) or expr
    return found


def wheel_knobs() -> list[str]:
    import os

    os.environ["CONDOR_CONFIG"] = "/dev/null"
    import htcondor2

    return sorted(k.upper() for k in htcondor2.param.keys())  # noqa: SIM118 (param is not a dict)


def pattern_regex(name: str) -> str:
    parts = _PLACEHOLDER.split(name)
    return "".join(re.escape(p.upper()) + ("[A-Z0-9_]+" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


def dumps(table: dict[str, object]) -> str:
    """JSON with one knob or pattern per line, so that a new release's table reads as a short diff."""
    lines = ["{"]
    for i, (key, value) in enumerate(table.items()):
        end = "," if i < len(table) - 1 else ""
        if isinstance(value, dict) and key == "knobs":
            items = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()]
            lines += [f' "{key}": {{', ",\n".join(items), f" }}{end}"]
        elif isinstance(value, list):
            lines += [f' "{key}": [', ",\n".join(f"  {json.dumps(v)}" for v in value), f" ]{end}"]
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}{end}")
    return "\n".join(lines) + "\n}\n"


def main(git_dir: str, ref: str) -> int:
    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", ref], check=True, capture_output=True, text=True).stdout.strip()
    types, refs = param_info(git_show(git_dir, ref, "src/condor_utils/param_info.in"))
    listing = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "--name-only", ref, "docs/admin-manual/configuration/"],
                             check=True, capture_output=True, text=True).stdout.split()
    docs: dict[str, bool] = {}
    for path in sorted(p for p in listing if p.endswith(".rst")):
        for name, expr in documented(git_show(git_dir, ref, path)).items():
            docs[name] = docs.get(name, False) or expr
    knobs: dict[str, dict[str, object]] = {}
    for name in set(types) | {n.upper() for n in docs if not _PLACEHOLDER.search(n)} | set(wheel_knobs()):
        expr = name in _ALSO_EXPRESSIONS or any(e for n, e in docs.items() if n.upper() == name)
        knobs[name] = {"type": types.get(name, "string"), "expression": expr, **({"refs": refs[name]} if name in refs else {})}
    patterns = [{"name": n, "regex": pattern_regex(n), "expression": e} for n, e in sorted(docs.items()) if _PLACEHOLDER.search(n)]
    table = {
        "source": {"repository": "https://github.com/htcondor/htcondor", "ref": ref, "commit": commit,
                   "files": ["src/condor_utils/param_info.in", "docs/admin-manual/configuration/*.rst"],
                   "also": "htcondor2.param.keys() of the pinned wheel",
                   "generator": "scripts/gen_knob_table.py"},
        "knobs": dict(sorted(knobs.items())),
        "patterns": patterns,
    }
    sys.stdout.write(dumps(table))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
