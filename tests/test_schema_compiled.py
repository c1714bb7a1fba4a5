"""The compiled schema (confgen/site/schema_compiled.py) says "valid" exactly when jsonschema finds no
error: on every test site, the shipped one, generated ones and mutations of them. Both are real: the
published schema, jsonschema with confgen's integer and pattern rules (schema_errors._validator)."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest

from confgen.site.load import read_document
from confgen.site.schema import ecma_regex, is_valid, schema
from confgen.site.schema_compiled import compile_schema
from confgen.site.schema_errors import _validator
from tests.generate import class_policy, make_site

ROOT = Path(__file__).resolve().parents[1]
#: Every test site that loads as YAML (the others never reach the schema).
SITE_FILES = [p for p in sorted(ROOT.glob("tests/sites/*/*/site.yaml")) + [ROOT / "site.yaml"] if read_document(p)[0] is not None]
#: Values a mutation puts in place of another: each a type or bound the schema tells apart.
REPLACEMENTS: list[Any] = [0, 1, -1, 1.0, 2.5, True, False, None, "", "x", "Foo-1", "a b", "a\n", "9618", "x" * 5000,
                           [], ["x"], ["x", "x"], [1, 1.0], [True, 1], {}, {"x": 1}, 10**6, "/abs/path", "relative/path", "FS"]


def test_every_keyword_of_the_schema_is_compiled() -> None:
    compile_schema(schema(), ecma_regex)  # raises ValueError naming a keyword it does not know


def jsonschema_valid(data: Any) -> bool:
    return next(iter(_validator().iter_errors(data)), None) is None


def leaves(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(data, dict):
        for k, v in data.items():
            out += leaves(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += leaves(v, path + (i,))
    return out


def mutated(data: Any, rng: random.Random) -> Any:
    data = copy.deepcopy(data)
    path = rng.choice(leaves(data)[1:])
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    kind = rng.random()
    if kind < 0.6:
        parent[path[-1]] = copy.deepcopy(rng.choice(REPLACEMENTS))
    elif kind < 0.75 and isinstance(parent, dict):
        parent[rng.choice(["extra", "Extra_1", "x y", path[-1] + "2"])] = parent[path[-1]]
    elif kind < 0.9:
        del parent[path[-1]]
    elif isinstance(parent, list):
        parent.append(copy.deepcopy(parent[path[-1]]))
    return data


@pytest.mark.parametrize("site", SITE_FILES, ids=lambda p: p.parent.name)
def test_agrees_on_test_sites(site: Path) -> None:
    doc, _ = read_document(site)
    assert doc is not None
    assert is_valid()(doc.data) == jsonschema_valid(doc.data)


def test_agrees_on_mutations() -> None:
    rng = random.Random(17)
    bases = [read_document(ROOT / "site.yaml")[0].data]  # type: ignore[union-attr]
    for seed in range(12):
        site = make_site(seed)
        class_policy(random.Random(seed), site)
        bases.append(site)
    seen = {True: 0, False: 0}
    for _ in range(600):
        data = mutated(rng.choice(bases), rng)
        expected = jsonschema_valid(data)
        seen[expected] += 1
        assert is_valid()(data) == expected, data
    assert min(seen.values()) > 50  # both answers were exercised
