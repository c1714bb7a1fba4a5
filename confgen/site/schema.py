"""The published JSON Schema of site.yaml, and schema violations as positioned Diagnostics."""

from __future__ import annotations

import functools
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any


def _import_jsonschema_without_iri_grammar() -> None:
    """jsonschema imports rfc3987_syntax when it is installed (jupyterhub brings it), which builds a
    grammar at import: 0.95 s measured, in every confgen process. confgen checks no `format`, so
    jsonschema is imported as if that package were absent; later importers get the real one."""
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # None makes `import` raise ImportError
    try:
        import jsonschema  # noqa: F401
    finally:
        del sys.modules["rfc3987_syntax"]


_import_jsonschema_without_iri_grammar()

import jsonschema  # noqa: E402
from jsonschema.exceptions import ValidationError, best_match  # noqa: E402

from confgen.diagnostics import Diagnostic  # noqa: E402
from confgen.site.load import Document, PathKey  # noqa: E402

_REPO_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "site.schema.json"


def schema_text() -> str:
    """The schema as shipped: inside the wheel, or in the source tree of an editable install."""
    packaged = resources.files("confgen") / "schemas" / "site.schema.json"
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return _REPO_SCHEMA.read_text(encoding="utf-8")


@functools.cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    return cls(schema())


def check_schema(doc: Document) -> list[Diagnostic]:
    """Every schema violation of `doc`, each at the key or value it is about."""
    out: list[Diagnostic] = []
    for error in _validator().iter_errors(doc.data):
        out.extend(_diagnostics(doc, error))
    return sorted(set(out))


def _diagnostics(doc: Document, error: ValidationError) -> list[Diagnostic]:
    path: PathKey = tuple(error.absolute_path)
    sub_schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(sub_schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        if "properties" in sub_schema:
            known = ", ".join(sorted(allowed))
            return [doc.diag(path + (k,), f"unknown key {k!r}; expected one of: {known}", code="schema", key=True) for k in extra]
    if error.validator == "required":
        return [doc.diag(path, error.message, code="schema")]
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = best_match(error.context)
        more = len(error.context) - 1
        sub_path = path + tuple(best.relative_path)
        note = f" (and {more} more reason(s) across the alternatives)" if more else ""
        return [doc.diag(sub_path, _message(best) + note, code="schema")]
    if "propertyNames" in error.schema_path:
        return [doc.diag(path + (str(error.instance),), f"key {_message(error)}", code="schema", key=True)]
    return [doc.diag(path, _message(error), code="schema")]


def _message(error: ValidationError) -> str:
    if error.validator == "pattern":
        return f"{error.instance!r} does not match the pattern {error.validator_value}"
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)  # type: ignore[union-attr]
        return f"{error.instance!r} is not one of {allowed}"
    return error.message
