"""The published JSON Schema of site.yaml, and schema violations as positioned Diagnostics.

A site is first tested against the schema compiled without jsonschema (schema_compiled.py); only an
invalid one imports jsonschema (schema_errors.py) to say where and why."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from confgen.diagnostics import Diagnostic
from confgen.site.load import Document
from confgen.site.schema_compiled import Test, compile_schema

_PACKAGED_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "site.schema.json"
_REPO_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "site.schema.json"


def schema_text() -> str:
    """The schema as shipped: inside the wheel (confgen/schemas/), or in the source tree of an editable install."""
    packaged = _PACKAGED_SCHEMA
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return _REPO_SCHEMA.read_text(encoding="utf-8")


@functools.cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@functools.cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    r"""`pattern` with ECMA-262's meaning of `$` (the end of the text): Python's `$` also matches before a
    final line break, so '^[a-z]+$' accepted 'BAF\n'. Every `$` outside a character class becomes `\Z`."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        out.append("\\Z" if ch == "$" and not in_class else ch)
        i += 1
    return re.compile("".join(out))


@functools.cache
def is_valid() -> Test:
    """The schema, compiled once: True when a document has no schema violation. A schema with a keyword
    schema_compiled.py does not know (tests/test_schema_compiled.py fails then) is left to jsonschema."""
    try:
        return compile_schema(schema(), ecma_regex)
    except ValueError:
        return lambda data: False


def check_schema(doc: Document) -> list[Diagnostic]:
    """Every schema violation of `doc`, each at the key or value it is about."""
    if is_valid()(doc.data):
        return []
    from confgen.site.schema_errors import explain

    return explain(doc)
