"""The published JSON Schema compiled to one yes/no test, without jsonschema.

Importing jsonschema costs more than checking a site (its format checkers import date and IRI
libraries when they are installed), and a valid site needs no explanation. So the schema is compiled
once into nested closures that answer only "valid?"; for an invalid site schema.py asks jsonschema for
the positioned explanation. The two must agree on every document: this covers exactly the keywords the
schema uses (with confgen's two changes to jsonschema: `integer` is an int, never a float, and
`pattern` has ECMA-262's `$`), and refuses to compile a schema with any other keyword.
tests/test_schema_compiled.py compares the two on every test site and on mutated ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Test = Callable[[Any], bool]

#: Keywords that only describe (no effect on validity).
_ANNOTATIONS = {"description", "default", "title", "$schema", "$id", "$defs", "examples", "$comment"}

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _key(value: Any) -> Any:
    """A hashable key equal for two values exactly when jsonschema's `equal` holds (a bool is no number;
    1 and 1.0 are equal)."""
    if isinstance(value, bool):
        return ("bool", value)
    if _is_number(value):
        return ("number", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, list):
        return ("list", tuple(_key(v) for v in value))
    if isinstance(value, dict):
        return ("dict", frozenset((k, _key(v)) for k, v in value.items()))
    if value is None:
        return ("null", None)
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return ("other", value)


class Compiler:
    """Compiles a schema (and the `$ref`s it follows, each once) into a Test."""

    def __init__(self, root: dict[str, Any], ecma_regex: Callable[[str], re.Pattern[str]]) -> None:
        self.root = root
        self.ecma_regex = ecma_regex
        self.refs: dict[str, Test] = {}

    def compile(self, schema: Any) -> Test:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        made = [self._keyword(word, value, schema) for word, value in schema.items() if word not in _ANNOTATIONS]
        tests = [t for t in made if t is not None]
        if len(tests) == 1:
            return tests[0]
        return lambda v: all(t(v) for t in tests)

    def _ref(self, ref: str) -> Test:
        if ref not in self.refs:
            if not ref.startswith("#/"):
                raise ValueError(f"only local $ref are compiled, not {ref!r}")
            self.refs[ref] = lambda v: True  # a placeholder while a recursive schema compiles
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            compiled = self.compile(target)
            self.refs[ref] = compiled
        return lambda v: self.refs[ref](v)

    def _keyword(self, word: str, value: Any, schema: dict[str, Any]) -> Test | None:
        if word == "type":
            checks = [_TYPES[t] for t in (value if isinstance(value, list) else [value])]
            return lambda v: any(c(v) for c in checks)
        if word == "$ref":
            return self._ref(value)
        if word == "properties":
            props = {name: self.compile(sub) for name, sub in value.items()}
            return lambda v: not isinstance(v, dict) or all(t(v[k]) for k, t in props.items() if k in v)
        if word == "patternProperties":
            patterns = [(re.compile(p), self.compile(sub)) for p, sub in value.items()]
            return lambda v: not isinstance(v, dict) or all(t(x) for k, x in v.items() for p, t in patterns if p.search(k))
        if word == "additionalProperties":
            return self._additional(value, schema)
        if word == "propertyNames":
            names = self.compile(value)
            return lambda v: not isinstance(v, dict) or all(names(k) for k in v)
        if word == "required":
            return lambda v: not isinstance(v, dict) or all(k in v for k in value)
        if word == "minProperties":
            return lambda v: not isinstance(v, dict) or len(v) >= value
        if word == "items":
            item = self.compile(value)
            return lambda v: not isinstance(v, list) or all(item(x) for x in v)
        if word == "minItems":
            return lambda v: not isinstance(v, list) or len(v) >= value
        if word == "maxItems":
            return lambda v: not isinstance(v, list) or len(v) <= value
        if word == "uniqueItems":
            return (lambda v: not isinstance(v, list) or len({_key(x) for x in v}) == len(v)) if value else None
        if word == "pattern":
            regex = self.ecma_regex(value)
            return lambda v: not isinstance(v, str) or regex.search(v) is not None
        if word == "maxLength":
            return lambda v: not isinstance(v, str) or len(v) <= value
        if word == "minLength":
            return lambda v: not isinstance(v, str) or len(v) >= value
        if word == "minimum":
            return lambda v: not _is_number(v) or v >= value
        if word == "maximum":
            return lambda v: not _is_number(v) or v <= value
        if word == "enum":
            allowed = {_key(x) for x in value}
            return lambda v: _key(v) in allowed
        if word == "const":
            wanted = _key(value)
            return lambda v: _key(v) == wanted
        if word == "anyOf":
            alternatives = [self.compile(sub) for sub in value]
            return lambda v: any(a(v) for a in alternatives)
        if word == "oneOf":
            alternatives = [self.compile(sub) for sub in value]
            return lambda v: sum(1 for a in alternatives if a(v)) == 1
        raise ValueError(f"the schema keyword {word!r} is not compiled; add it to confgen/site/schema_compiled.py")

    def _additional(self, value: Any, schema: dict[str, Any]) -> Test:
        known = set(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        extra = self.compile(value)

        def test(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            return all(extra(x) for k, x in v.items() if k not in known and not any(p.search(k) for p in patterns))
        return test


def compile_schema(schema: dict[str, Any], ecma_regex: Callable[[str], re.Pattern[str]]) -> Test:
    """`schema` as a test: True exactly when jsonschema (with confgen's integer and pattern) finds no error."""
    return Compiler(schema, ecma_regex).compile(schema)
