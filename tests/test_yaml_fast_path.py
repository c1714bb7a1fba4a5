"""The libyaml fast path of site/load.py (_fast_compose) reads every test text exactly as the Python
composer does: the same data, positions and literals, or the same diagnostics. Both real: PyYAML's C
binding and its pure-Python composer; the slow path is forced by turning the fast one off."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from confgen.site import load
from tests.generate import class_policy, dump, make_site
from tests.hostile_corpus import corpus

ROOT = Path(__file__).resolve().parents[1]


def texts() -> list[tuple[str, str]]:
    out = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in sorted(ROOT.glob("tests/sites/*/*/site.yaml"))]
    out.append(("site.yaml", (ROOT / "site.yaml").read_text(encoding="utf-8")))
    out += [(case.id, case.text) for case in corpus()]
    for seed in range(8):
        site = make_site(seed, n_os=[1, 5, 40, 300][seed % 4])
        class_policy(random.Random(seed), site)
        out.append((f"generated {seed}", dump(site)))
    deep = "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 80)) + "  " * 80 + "leaf: 1\n"
    out += [("nested 80 deep", deep), ("flow nested 70 deep", "a: " + "[" * 70 + "1" + "]" * 70 + "\n"),
            ("unclosed flow", "a: [1, 2\nb: 3\n"), ("tab indent", "a:\n\tb: 1\n"), ("duplicate anchor", "a: &x 1\nb: &x 2\nc: *x\n"),
            ("undefined alias", "a: *nope\n"), ("two documents", "a: 1\n---\nb: 2\n"), ("empty", ""), ("comment only", "# nothing\n")]
    return out


def parsed(text: str) -> object:
    doc, problems = load.parse_text(text, "site.yaml")
    if doc is None:
        return problems
    return doc.data, doc.values, doc.keys, doc.literals


@pytest.mark.parametrize(("name", "text"), texts(), ids=[n for n, _ in texts()])
def test_fast_path_reads_as_the_python_composer(name: str, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = parsed(text)
    monkeypatch.setattr(load, "_fast_compose", lambda text: None)
    assert fast == parsed(text)


def test_the_shipped_site_takes_the_fast_path() -> None:
    assert load._fast_compose((ROOT / "site.yaml").read_text(encoding="utf-8")) is not None
