"""Bounds that hold: input that asks for unbounded work is refused at its place in site.yaml, quickly
and in bounded memory, before rendering or validation; each count limit accepts N and refuses N+1;
the parser's child tells a timeout from a macro cycle."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from confgen.errors import InputError
from confgen.render import Fragment, htcondor_roles, render_site
from confgen.site import bounds, load_site
from confgen.site.load import read_document
from confgen.validate.parser import MAX_ROLE_BYTES, load_roles
from tests.conftest import ROOT, example_text, site_from_text
from tests.generate import dump, make_site
from tests.measure import PEAK_MB

# Whole `confgen ARGS` process: wall time and the peak RSS of it and its children (the parser's).
MEASURE = PEAK_MB + """
import sys, time
from confgen.cli import main
started = time.monotonic()
code = main(sys.argv[1:])
print(f"MEASURED {code} {time.monotonic() - started:.3f} {peak_mb()}", file=sys.stderr)
"""
TIME_BOUND_S = 10.0  # the shipped site checks in about 0.6 s; the amplified files took 65 s and 113 s
RSS_BOUND_MB = 300  # ... and up to 3.2 GB


def measure(cwd: Path, *args: str) -> tuple[int, float, int, str]:
    proc = subprocess.run([sys.executable, "-c", MEASURE, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MEASURED "))
    _, code, seconds, rss = line.split()
    assert "Traceback" not in proc.stdout + proc.stderr
    return int(code), float(seconds), int(rss), proc.stdout


def line_of(text: str, pattern: str) -> int:
    """1-based number of the first line matching `pattern`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if re.search(pattern, line))


def amplified(mode: str, length: int, times: int) -> str:
    """The example with one long path anchored once and aliased `times` times (as OS images or binds)."""
    text = example_text()
    long = "/cvmfs/" + "a" * length
    if mode == "images":
        old = "    Rocky8: /cvmfs/images.physik.uni-bonn.de/rocky8/latest\n"
        new = f"    Rocky8: &long {long}\n" + "".join(f"    Alias{i}: *long\n" for i in range(times))
    else:
        old = "    - /cvmfs\n"
        new = f"    - &long {long}\n" + "    - *long\n" * times
    assert old in text
    return text.replace(old, new)


def snapshot_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("mode", ["images", "binds"])
def test_a_long_path_aliased_300_times_is_refused_at_once(mode, tmp_path):  # type: ignore[no-untyped-def]
    """Issue 11: a 1.5 MB site.yaml took 75 s and 1.5 GB (3.2 GB as binds), then read as a macro cycle."""
    (tmp_path / "site.yaml").write_text(example_text())
    code, _, _, _ = measure(tmp_path, "render")
    assert code == 0
    before = snapshot_tree(tmp_path / "output")
    text = amplified(mode, 1_500_000, 300)
    assert 1_400_000 < len(text) < 1_600_000
    (tmp_path / "site.yaml").write_text(text)
    for command in ("check", "render"):
        code, seconds, rss, out = measure(tmp_path, command)
        print(f"{mode} {command}: exit {code}, {seconds} s, {rss} MB")
        assert code == 1, out
        assert seconds < TIME_BOUND_S and rss < RSS_BOUND_MB, (seconds, rss)
        anchor = line_of(text, "&long")
        section = "images" if mode == "images" else "binds"
        errors = out.splitlines()
        assert errors and all(e.startswith("site.yaml:") and e.endswith("(limit)") for e in errors), errors
        assert any(e.startswith(f"site.yaml:{anchor}:") and "1,500,007 characters long; at most 4096" in e for e in errors), errors
        assert any(e.startswith(f"site.yaml:{line_of(text, f'^  {section}:')}:3: error: containers.{section}: expands to ")
                   and f"the value written at line {anchor} is used 301 times through aliases" in e for e in errors), errors
        assert "cycle" not in out
    assert snapshot_tree(tmp_path / "output") == before


def test_aliases_of_short_paths_are_refused_past_the_text_limit(tmp_path):  # type: ignore[no-untyped-def]
    """Each path under 4096 characters, but 1100 aliases of one: 4.4 MB of text from a 32 KB file."""
    text = amplified("images", 4000, 1100)
    assert len(text) < 40_000
    (tmp_path / "site.yaml").write_text(text)
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        load_site(tmp_path / "site.yaml", display="site.yaml")
    assert time.monotonic() - started < TIME_BOUND_S
    [problem] = caught.value.diagnostics
    assert (problem.line, problem.col, problem.path) == (line_of(text, "^  images:"), 3, "containers.images")
    assert "expands to 4,420,727 characters" in problem.message and "at most 4,194,304" in problem.message
    assert "used 1101 times through aliases" in problem.message


def test_a_path_longer_than_path_max_is_refused_at_its_line():  # type: ignore[no-untyped-def]
    for length, refused in ((bounds.MAX_STRING, False), (bounds.MAX_STRING + 1, True)):
        path = "/usr/bin/" + "a" * (length - len("/usr/bin/"))
        text = example_text().replace("  runtime: /usr/bin/apptainer", f"  runtime: {path}")
        if not refused:
            site_from_text(text)
            continue
        with pytest.raises(InputError) as caught:
            site_from_text(text)
        [problem] = caught.value.diagnostics
        assert (problem.line, problem.col, problem.path, problem.code) == (line_of(text, "^  runtime:"), 12, "containers.runtime", "limit")
        assert f"{length:,} characters long; at most 4096" in problem.message


# --- count limits: N accepted, N + 1 refused at the collection, with the limit in the message --------

def _example() -> dict[str, Any]:
    site: dict[str, Any] = yaml.safe_load(example_text())
    site["checks"] = []  # they name the example's OSes and classes
    return site


def _images(n: int) -> dict[str, Any]:
    site = _example()
    site["containers"]["images"] = {f"Os{i}": f"/srv/images/os{i}" for i in range(n - 1)} | {"Rocky9": "/srv/images/rocky9"}
    site["node_classes"] = {"batch": {"interactive": "allowed"}}
    site["jupyterhub"]["max_gpus"] = 0
    return site


def _classes(n: int) -> dict[str, Any]:
    site = _example()
    site["node_classes"] = {f"class{i}": {"interactive": "allowed", "images": ["Rocky9"]} for i in range(n)}
    site["jupyterhub"]["max_gpus"] = 0
    return site


def _pairs(n: int) -> dict[str, Any]:
    """Classes of 1000 OS images each (the last one smaller), n offered in all."""
    site = _images(1000)
    names = sorted(site["containers"]["images"])
    site["node_classes"] = {f"class{i}": {"interactive": "allowed", "images": names[: min(1000, n - 1000 * i)]}
                            for i in range((n + 999) // 1000)}
    return site


def _binds(n: int) -> dict[str, Any]:
    site = _example()
    site["containers"]["binds"] = [f"/data/{i}" for i in range(n)]
    return site


def _attributes(n: int) -> dict[str, Any]:
    site = _example()
    for i in range(n - len(site["job_attributes"])):
        site["job_attributes"][f"Extra{i}"] = {"type": "integer", "min": 0, "max": 9, "default": 1}
    return site


def _values(n: int) -> dict[str, Any]:
    site = _example()
    site["job_attributes"]["CephFS_IO"]["values"] = ["low"] + [f"v{i}" for i in range(n - 1)]
    return site


def _checks(n: int) -> dict[str, Any]:
    site = _example()
    site["checks"] = [{"name": f"check {i}", "job": {}, "expect": {"image": "Rocky9"}} for i in range(n)]
    return site


def _users(n: int) -> dict[str, Any]:
    site = _example()
    site["security"]["blocked_users"] = [f"user{i}" for i in range(n)]
    return site


def _rendered(n: int) -> dict[str, Any]:
    """n classes offering the same 1000 OS images of 3500-character paths: 3.5 MB of text, each class
    renders all of it."""
    site = _images(1000)
    site["containers"]["images"] = {name: path + "/" + "p" * (3500 - len(path)) for name, path in site["containers"]["images"].items()}
    site["node_classes"] = {f"class{i}": {"interactive": "allowed"} for i in range(n)}
    return site


LIMITS: dict[str, tuple[Callable[[int], dict[str, Any]], int, str, str, str]] = {
    # name: (site with n of them, the limit, the key line, the diagnostic's path, a phrase of the message)
    "OS images": (_images, bounds.MAX_OS_IMAGES, "^  images:", "containers.images", "5,001 OS images; confgen renders and checks at most 5,000"),
    "node classes": (_classes, bounds.MAX_NODE_CLASSES, "^node_classes:", "node_classes", "65 node classes; confgen renders and checks at most 64"),
    "OS images of all classes": (_pairs, bounds.MAX_CLASS_IMAGES, "^node_classes:", "node_classes", "offer 10,001 OS images in all"),
    "binds": (_binds, bounds.MAX_BINDS, "^  binds:", "containers.binds", "1,001 binds; confgen renders and checks at most 1,000"),
    "job attributes": (_attributes, bounds.MAX_JOB_ATTRIBUTES, "^job_attributes:", "job_attributes", "21 job attributes; confgen renders and checks at most 20"),
    "attribute values": (_values, bounds.MAX_ATTRIBUTE_VALUES, "^    values:", "job_attributes.CephFS_IO.values", "1,001 values in all"),
    "checks": (_checks, bounds.MAX_CHECKS, "^checks:", "checks", "1,001 checks; confgen renders and checks at most 1,000"),
    "any other list": (_users, bounds.MAX_ITEMS, "^  blocked_users:", "security.blocked_users", "has 1,001 entries; at most 1,000"),
    "rendered size": (_rendered, 9, "^node_classes:", "node_classes", "would render about 35 MiB of HTCondor configuration"),
}


@pytest.mark.parametrize("name", list(LIMITS))
def test_a_count_limit_accepts_n_and_refuses_n_plus_1(name):  # type: ignore[no-untyped-def]
    build, limit, key_line, path, phrase = LIMITS[name]
    site_from_text(dump(build(limit)))  # accepted: no InputError
    text = dump(build(limit + 1))
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        site_from_text(text)
    assert time.monotonic() - started < TIME_BOUND_S
    [problem] = caught.value.diagnostics
    assert (problem.line, problem.path, problem.code) == (line_of(text, key_line), path, "limit"), problem
    assert phrase in problem.message, problem.message


def test_the_rendered_estimate_is_an_upper_bound(tmp_path):  # type: ignore[no-untyped-def]
    """bounds.rendered_estimate may refuse a site before rendering only if it never underestimates."""
    texts = [example_text()] + [dump(make_site(seed)) for seed in range(30)] + [dump(make_site(7, n_os=400)), dump(_rendered(2))]
    for i, text in enumerate(texts):
        path = tmp_path / f"{i}.yaml"
        path.write_text(text)
        doc, problems = read_document(path)
        assert doc is not None, problems
        rendered = sum(len(f.text.encode()) for f in htcondor_roles(render_site(load_site(path))))
        estimate = bounds.rendered_estimate(doc)
        assert rendered <= estimate, (i, rendered, estimate)
        assert estimate < 4 * rendered + 200_000, (i, rendered, estimate)  # and not so loose that it means nothing


# --- the parser's child: a timeout is a cycle only if it is one --------------------------------

def test_a_macro_cycle_names_the_knob_that_hangs():  # type: ignore[no-untyped-def]
    fragments = [*render_site(load_site(ROOT / "site.yaml")), Fragment("execute-batch", "90-cycle.conf", "CYCLE_A = $(CYCLE_B)\nCYCLE_B = $(CYCLE_A)\n")]
    _, problems = load_roles(fragments, timeout=2)
    [problem] = problems
    assert problem.file == "output/execute-batch" and problem.path in ("CYCLE_A", "CYCLE_B")
    assert "macro cycle" in problem.message


def test_a_role_slow_to_read_is_not_called_a_cycle():  # type: ignore[no-untyped-def]
    # HTCondor runs `include : CMD |` while it reads the role: the child is stuck reading, not expanding.
    fragments = [*render_site(load_site(ROOT / "site.yaml")), Fragment("execute-batch", "90-slow.conf", "include : /bin/sleep 60 |\n")]
    started = time.monotonic()
    configs, problems = load_roles(fragments, timeout=2)
    assert time.monotonic() - started < 20
    [problem] = problems
    assert problem.file == "output/execute-batch" and problem.path == ""
    assert "did not finish reading this role within 2 s" in problem.message and "cycle" not in problem.message
    assert "execute-batch" not in configs and "submit" in configs


def test_a_role_over_the_size_limit_is_refused_before_the_parser_runs():  # type: ignore[no-untyped-def]
    huge = Fragment("execute-batch", "90-huge.conf", "HUGE = " + "x" * MAX_ROLE_BYTES + "\n")
    fragments = [*render_site(load_site(ROOT / "site.yaml")), huge]
    started = time.monotonic()
    configs, problems = load_roles(fragments, timeout=2)
    assert time.monotonic() - started < 10
    [problem] = problems
    assert problem.file == "output/execute-batch" and f"at most {MAX_ROLE_BYTES:,}" in problem.message
    assert "cycle" not in problem.message
    assert set(configs) == {r for r in {f.role for f in htcondor_roles(fragments)} if r != "execute-batch"}
