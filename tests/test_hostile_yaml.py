"""Issue 11, the loader: hostile site.yaml files made from the shipped one (tests/hostile_corpus.py),
one changed field each. Each is refused at the line and column of the changed literal, with a message
that says what was read and what to write, exit 1, no traceback and output/ byte for byte as it was;
or it renders, and the output says exactly what was written. Each run of `confgen render` is a fresh
process bounded in time and memory (the bounds of tests/test_faults.py)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from confgen.site import scalars
from confgen.site.schema import ecma_regex, schema
from tests.conftest import ROOT, example_text
from tests.hostile_corpus import BASE, Case, corpus
from tests.measure import PEAK_MB
from tests.test_faults import RSS_BOUND_MB, TIME_BOUND_S

CORPUS = corpus()

MEASURE = PEAK_MB + """
import sys, time
from confgen.cli import main
started = time.monotonic()
code = main(["render", "site.yaml", "-o", "output"])
print(f"MEASURED {code} {time.monotonic() - started:.3f} {peak_mb()}", file=sys.stderr)
"""


def tree_hash(root: Path, *, skip: str = "") -> str:
    """One hash of every path under `root` (but `skip`), its kind, mode and bytes (or link target)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.name == skip:
            continue
        st = path.lstat()
        digest.update(f"{path.relative_to(root).as_posix()}\0{st.st_mode:o}\0".encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclasses.dataclass
class Result:
    code: int
    seconds: float
    rss_mb: int
    out: str
    err: str
    before: str
    after: str
    #: The same, without the lock file (a render writes its pid there).
    rendered_before: str
    rendered_after: str
    workdir: Path


def run_case(case: Case, reference: Path, workdir: Path) -> Result:
    shutil.copytree(reference, workdir / "output", symlinks=True)
    (workdir / "site.yaml").write_bytes(case.text.encode("utf-8"))
    before, rendered_before = tree_hash(workdir / "output"), tree_hash(workdir / "output", skip=".confgen-lock")
    proc = subprocess.run([sys.executable, "-c", MEASURE], cwd=workdir, capture_output=True, text=True,
                          timeout=TIME_BOUND_S * 4, env={**os.environ, "PYTHONPATH": str(ROOT)})
    measured = [line for line in proc.stderr.splitlines() if line.startswith("MEASURED ")]
    assert measured, proc.stderr
    _, code, seconds, rss = measured[0].split()
    return Result(int(code), float(seconds), int(rss), proc.stdout, proc.stderr, before, tree_hash(workdir / "output"),
                  rendered_before, tree_hash(workdir / "output", skip=".confgen-lock"), workdir)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """output/ of the shipped site, rendered once."""
    workdir = tmp_path_factory.mktemp("reference")
    (workdir / "site.yaml").write_text(example_text(), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "confgen", "render", "site.yaml", "-o", "output"], cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return workdir / "output"


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest, reference: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Every selected case, run two at a time (each a fresh process, measured on its own)."""
    wanted = {item.callspec.params["case"].id for item in request.session.items
              if getattr(item, "module", None) is request.module and hasattr(item, "callspec") and "case" in item.callspec.params}
    cases = [c for c in CORPUS if c.id in wanted]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {c.id: pool.submit(run_case, c, reference, tmp_path_factory.mktemp("case")) for c in cases}
        return {key: future.result() for key, future in futures.items()}


def test_the_corpus_is_large_and_varied() -> None:
    kinds = {c.kind for c in CORPUS}
    assert len(CORPUS) >= 80, len(CORPUS)
    assert kinds == {"YAML 1.1 form", "float for an integer", "trailing newline", "big integer", "explicit tag",
                     "hidden line break", "path traversal", "oversize period"}
    assert all(sum(c.kind == k and c.line is not None for c in CORPUS) >= 5 for k in kinds)
    assert all(c.text != BASE for c in CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_hostile_file_is_refused_at_its_literal_or_rendered_as_written(case: Case, results: dict[str, Result]) -> None:
    r = results[case.id]
    print(f"{case.id}: exit {r.code}, {r.seconds} s, {r.rss_mb} MB")
    assert r.seconds < TIME_BOUND_S and r.rss_mb < RSS_BOUND_MB, (r.seconds, r.rss_mb)
    assert "Traceback" not in r.out + r.err and r.code != 3, r.out + r.err
    if case.line is None:
        assert r.code == 0, r.out + r.err
        for name, line in case.rendered:
            if name == "*":
                assert r.rendered_after == r.rendered_before, "the output differs from the shipped site's"
            else:
                text = (r.workdir / "output" / name).read_text()
                assert any(line in have for have in text.splitlines()), (name, line)
        return
    assert r.code == 1, r.out + r.err
    assert r.after == r.before, "a refused site changed output/"
    errors = r.out.splitlines()
    assert errors and all(re.match(r"^site\.yaml:\d+:\d+: error: ", e) for e in errors), errors
    here = [e for e in errors if e.startswith(f"site.yaml:{case.line}:{case.col}: error: ")]
    assert here, (f"expected an error at {case.line}:{case.col}", errors)
    assert any(case.needle in e for e in here), (case.needle, here)


# --- the pieces, directly -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("012", 'write "012" (quoted) for the string, or 12 for the number'),
    ("024", "read as the number 20 by YAML 1.1"),
    ("1:30", "the number 90 by YAML 1.1"),
    ("3_2", "the number 32 by YAML 1.1"),
    ("0b1", "the number 1 by YAML 1.1"),
    ("no", 'write "no" (quoted) for the string, or false for the boolean'),
    ("y", "the boolean true by YAML 1.1 (the 1.1 spec"),
    ("0o17", "the string \"0o17\" by YAML 1.1 and as the number 15 by YAML 1.2"),
    ("1e3", "the number 1000.0 by YAML 1.2"),
    ("-0x1F", "the number -31 by YAML 1.1"),
    ("1_", "the number 1 by YAML 1.1"),
    ("2001-12-14", "the date 2001-12-14 by YAML 1.1"),
    ("=", "a 'value' key by YAML 1.1"),
])
def test_yaml11_and_yaml12_readings_are_told_apart(text: str, expected: str) -> None:
    import yaml

    try:
        pyyaml = yaml.safe_load(f"v: {text}")["v"]
    except yaml.YAMLError:  # '=': PyYAML resolves a tag it cannot construct
        pyyaml = scalars.Special("tag:yaml.org,2002:value")
    problem = scalars.ambiguity(text, pyyaml)
    assert problem is not None and expected in problem, problem


@pytest.mark.parametrize("text", ["0", "7", "007", "-12", "+12", "0x1F", "1.5", "1.", ".5", "1.0e+3", "true", "False", "null", "~", "",
                                  ".inf", "-.Inf", ".nan", "abc", "Rocky9", "5m", "/usr/bin/x", "yes please", "_1"])
def test_what_both_readers_read_alike_is_accepted(text: str) -> None:
    import yaml

    assert scalars.ambiguity(text, yaml.safe_load(f"v: {text}")["v"]) is None


def test_every_schema_pattern_is_anchored_and_refuses_a_final_line_break() -> None:
    patterns: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.append(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema())
    assert len(patterns) >= 10
    for pattern in patterns:
        assert pattern.startswith("^") and pattern.endswith("$"), pattern
        for sample in ("BAF", "a", "/srv", "UNI-BONN.DE", "x1", "0"):
            if ecma_regex(pattern).search(sample):
                assert not ecma_regex(pattern).search(sample + "\n"), (pattern, sample)


def test_the_schema_text_pattern_refuses_exactly_what_the_loader_refuses() -> None:
    text = schema()["$defs"]["text"]["pattern"]
    assert text == scalars.text_pattern()
    assert schema()["$defs"]["absolute_path"]["pattern"] == "^/" + text[1:]
    compiled = ecma_regex(text)
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        loader = scalars.text_problem(ch, None) is not None
        assert (compiled.search(ch) is None) == loader, hex(code)
        if unicodedata.category(ch) in scalars.REFUSED_CATEGORIES:
            assert loader, hex(code)


def test_the_published_schema_stays_valid_json_with_the_astral_ranges() -> None:
    raw = (ROOT / "schemas" / "site.schema.json").read_text(encoding="utf-8")
    assert raw.isascii()  # astral characters are written as JSON surrogate pairs, nothing invisible
    assert json.loads(raw)["$defs"]["text"]["pattern"] == scalars.text_pattern()
