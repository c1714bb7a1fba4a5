"""Schema violations as positioned Diagnostics, found by jsonschema: imported only for a site that the
compiled schema (schema_compiled.py) found invalid."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterator
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
from confgen.site.schema import ecma_regex, schema  # noqa: E402


def _is_integer(checker: object, instance: object) -> bool:
    """An integer is an int: 9618.0 is a float where an integer is meant (jsonschema counts it as one)."""
    return isinstance(instance, int) and not isinstance(instance, bool)


def _pattern(validator: jsonschema.protocols.Validator, pattern: str, instance: object, _schema: object) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    base = jsonschema.validators.validator_for(schema())
    cls = jsonschema.validators.extend(base, validators={"pattern": _pattern},  # type: ignore[no-untyped-call]
                                       type_checker=base.TYPE_CHECKER.redefine("integer", _is_integer))
    validator: jsonschema.protocols.Validator = cls(schema())
    return validator


def explain(doc: Document) -> list[Diagnostic]:
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
        return [doc.diag(path, _missing(error, sub_schema), code="schema")]
    if error.validator in ("anyOf", "oneOf") and error.context:
        chosen = _chosen_alternative(error.context)
        if chosen:  # the alternative the value names (type: integer): its own errors, each at its value
            return [d for sub in chosen for d in _diagnostics(doc, sub)]
        consts = _refused_consts(error.context)
        if consts is not None:
            at, value, options = consts
            return [doc.diag(path + at, f"{value!r} is not one of {', '.join(repr(a) for a in options)}; write one of them", code="schema")]
        best = best_match(error.context)
        more = len(error.context) - 1
        sub_path = path + tuple(best.relative_path)
        note = f" (and {more} more reason(s) across the alternatives)" if more else ""
        return [doc.diag(sub_path, _message(best) + note, code="schema")]
    if "propertyNames" in error.schema_path:
        return [doc.diag(path + (str(error.instance),), f"key {_message(error)}", code="schema", key=True)]
    return [doc.diag(path, _message(error, doc.literals.get(path)), code="schema")]


def _missing(error: ValidationError, sub_schema: dict[str, Any]) -> str:
    """A required key that is not there: its name, what it is for (the schema's description), what to add."""
    found = re.fullmatch(r"'(.*)' is a required property", error.message)  # jsonschema: one error per missing key
    if found is None:
        return error.message
    name = found.group(1)
    described = sub_schema.get("properties", {}).get(name, {})
    what = described.get("description", "") if isinstance(described, dict) else ""
    section = ".".join(str(p) for p in error.absolute_path)
    where = f"under {section}:" if section else "at the top level"
    return f"the key {name!r} is missing" + (f" ({what.rstrip('.')})" if what else "") + f"; add `{name}: ...` {where}"


def _refused_consts(context: list[ValidationError]) -> tuple[PathKey, object, list[object]] | None:
    """When every alternative is told apart by a `const` at one key (job_attributes' `type`) and the
    value meets none: that key, its value and the constants allowed there."""
    by_alternative: dict[object, list[ValidationError]] = {}
    for sub in context:
        by_alternative.setdefault(sub.relative_schema_path[0] if sub.relative_schema_path else None, []).append(sub)
    consts = [next((e for e in errors if e.validator == "const"), None) for errors in by_alternative.values()]
    if len(consts) < 2 or any(c is None for c in consts):
        return None
    places = {tuple(c.relative_path) for c in consts if c is not None}
    if len(places) != 1:
        return None
    first = consts[0]
    assert first is not None
    return tuple(first.relative_path), first.instance, [c.validator_value for c in consts if c is not None]


def _chosen_alternative(context: list[ValidationError]) -> list[ValidationError]:
    """The errors of the one alternative whose `const` keywords the value meets (job_attributes'
    `type: string` or `type: integer`), if exactly one does; else none."""
    by_alternative: dict[object, list[ValidationError]] = {}
    for sub in context:
        by_alternative.setdefault(sub.relative_schema_path[0] if sub.relative_schema_path else None, []).append(sub)
    named = [errors for errors in by_alternative.values() if not any(e.validator == "const" for e in errors)]
    return named[0] if len(named) == 1 and len(by_alternative) > 1 else []


def _message(error: ValidationError, literal: str | None = None) -> str:
    if error.validator == "type" and "integer" in _listed(error.validator_value):
        if isinstance(error.instance, float) and not isinstance(error.instance, bool):
            written = literal or repr(error.instance)
            if error.instance.is_integer():
                return f"{written} is a float where an integer is meant (HTCondor would read {error.instance!r}); write {int(error.instance)}"
            return f"{written} is not an integer; write a whole number such as {int(error.instance)}"
        if isinstance(error.instance, str) and re.fullmatch(r"[-+]?[0-9]+", error.instance):
            return f"{error.instance!r} is a string where an integer is meant; write {int(error.instance)} without quotes"
    if error.validator == "type" and _listed(error.validator_value) == ["string"] and literal is not None:
        kind = "a boolean" if isinstance(error.instance, bool) else "a number" if isinstance(error.instance, int | float) else "no string"
        return f'{literal} is {kind} where a string is meant; write "{literal}" (quoted) for the string'
    if error.validator == "type" and _listed(error.validator_value) == ["boolean"]:
        written = literal or repr(error.instance)
        return f"{written} is not a boolean; write true or false (unquoted)"
    if error.validator == "pattern":
        what = error.schema.get("description") if isinstance(error.schema, dict) else None
        said = f"{error.instance!r} is not {what[0].lower()}{what[1:].rstrip('.')}" if what else \
            f"{error.instance!r} does not match the pattern {error.validator_value}"
        return said + _pattern_hint(str(error.instance))
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)  # type: ignore[union-attr]
        return f"{error.instance!r} is not one of {allowed}"
    return error.message


def _pattern_hint(value: str) -> str:
    """What to write instead, for the mistakes seen in host names."""
    if "://" in value:
        return f"; write the host name alone: {value.split('://', 1)[1].split('/')[0].split(':')[0]!r}"
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and host:
        return f"; write the host name alone ({host!r}): the port is network.shared_port.port"
    return ""


def _listed(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]
