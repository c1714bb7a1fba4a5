"""Bad files, bad output directories and broken fragments: exit 1 with a clear message, output/ untouched."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from confgen.render import Fragment, render_site
from confgen.site import load_site
from confgen.validate import validate
from confgen.validate.parser import load_roles
from tests.conftest import ROOT, example_text
from tests.measure import PEAK_MB


def snapshot_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def workdir(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    (tmp_path / "site.yaml").write_text(example_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_missing_file_directory_and_huge_file(workdir, run):  # type: ignore[no-untyped-def]
    assert run("check", "nope.yaml")[:2] == (1, "nope.yaml: error: no such file (io)\n")
    (workdir / "d").mkdir()
    code, out, _ = run("check", "d")
    assert code == 1 and "is a directory" in out
    with open(workdir / "big.yaml", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    code, out, _ = run("check", "big.yaml")
    assert code == 1 and "larger than" in out


def test_invalid_site_leaves_output_exactly_as_it_was(workdir, run):  # type: ignore[no-untyped-def]
    assert run("render")[0] == 0
    before = snapshot_tree(workdir / "output")
    (workdir / "site.yaml").write_text(example_text().replace("default: Rocky9 ", "default: Nope "))
    code, out, err = run("render")
    assert code == 1 and "containers.default" in out and "nothing was written" in err
    assert snapshot_tree(workdir / "output") == before


def test_render_writes_only_what_changed_and_removes_stale_files(workdir, run):  # type: ignore[no-untyped-def]
    assert run("render")[0] == 0
    untouched = workdir / "output" / "central-manager" / "10-pool.conf"
    inode = untouched.stat().st_ino
    (workdir / "output" / "submit" / "99-old.conf").write_text("X = 1\n")
    (workdir / "outside.txt").write_text("keep")
    (workdir / "output" / "notes.txt").write_text("keep")
    code, out, _ = run("render", "--check")
    assert code == 4 and "stale" in out and "99-old.conf" in out  # 4: the output would change
    code, out, _ = run("render")
    assert code == 0 and "99-old.conf" in out
    assert not (workdir / "output" / "submit" / "99-old.conf").exists()
    assert untouched.stat().st_ino == inode  # a role with nothing to change is not rewritten
    assert sorted(p.name for p in (workdir / "output").iterdir()) == sorted([*(workdir / "output" / ".confgen-manifest").read_text().split(), ".confgen-lock", ".confgen-manifest", "notes.txt"])
    assert (workdir / "outside.txt").read_text() == "keep" and (workdir / "output" / "notes.txt").read_text() == "keep"
    assert run("render", "--check")[0] == 0


def test_removed_node_class_directory_is_cleaned(workdir, run):  # type: ignore[no-untyped-def]
    assert run("render")[0] == 0
    data = yaml.safe_load(example_text())
    del data["node_classes"]["gpu"]
    data["jupyterhub"]["max_gpus"] = 0  # GPUs for notebooks need a GPU class
    (workdir / "site.yaml").write_text(yaml.safe_dump(data))
    assert run("render")[0] == 0
    assert not (workdir / "output" / "execute-gpu").exists()


def test_symlinked_role_directory_is_refused(workdir, run, tmp_path_factory):  # type: ignore[no-untyped-def]
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (workdir / "output").mkdir()
    os.symlink(elsewhere, workdir / "output" / "submit")
    code, _, err = run("render")
    assert code == 1 and "symbolic link" in err
    assert list(elsewhere.iterdir()) == []


def test_unwritable_output_is_an_error_not_a_traceback(workdir, run):  # type: ignore[no-untyped-def]
    (workdir / "output").write_text("a file where the output directory should be")
    code, out, err = run("render")
    assert code == 1 and "output is a file, not a directory: nothing was written" in err and "Traceback" not in out + err
    assert (workdir / "output").read_text().startswith("a file")


def test_usage_and_internal_errors(run, monkeypatch):  # type: ignore[no-untyped-def]
    assert run("frobnicate")[0] == 2
    assert run("render", "--check", "--dry-run")[0] == 2
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr("confgen.render.render_site", lambda site: 1 / 0)
    code, _, err = run("check")
    assert code == 3 and "bug in confgen" in err and "Traceback" not in err
    code, _, err = run("check", "--traceback")
    assert code == 3 and "Traceback" in err


def test_schema_command_prints_the_published_schema(run):  # type: ignore[no-untyped-def]
    code, out, _ = run("schema")
    assert code == 0 and out == (ROOT / "schemas" / "site.schema.json").read_text()


def test_syntax_error_and_macro_cycle_are_reported_with_their_place():  # type: ignore[no-untyped-def]
    fragments = render_site(load_site(ROOT / "site.yaml"))
    broken = [*fragments, Fragment("submit", "90-bad.conf", "GOOD = 1\nthis is not config\n"), Fragment("execute-batch", "90-cycle.conf", "A = $(B)\nB = $(A)\n")]
    configs, problems = load_roles(broken, timeout=3)
    text = "\n".join(p.format() for p in problems)
    assert "output/submit/90-bad.conf:2:1" in text
    assert "output/execute-batch" in text and "macro cycle" in text
    assert {"central-manager", "submit", "execute-batch"} - set(configs) == {"submit", "execute-batch"}


@pytest.mark.parametrize(
    ("old", "new", "knob"),
    [
        ("  encryption: required", "  encryption: never", "SEC_DEFAULT_ENCRYPTION"),
        ("  methods: [KERBEROS, FS]", "  methods: [KERBEROS, FS, CLAIMTOBE]", "CLAIMTOBE"),
    ],
)
def test_security_lint_names_knob_role_and_line(tmp_path, old, new, knob):  # type: ignore[no-untyped-def]
    path = tmp_path / "site.yaml"
    path.write_text(example_text().replace(old, new))
    site = load_site(path, display="site.yaml")
    report = validate(site, render_site(site))
    lint = [d for d in report.diagnostics if d.code == "security"]
    assert lint and all(knob in d.message for d in lint)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if new in text)
    assert {d.line for d in lint} == {line}
    assert {"central-manager", "submit"} <= {d.message.split(": ")[1] for d in lint}


def test_a_broken_expression_is_caught(monkeypatch):  # type: ignore[no-untyped-def]
    site = load_site(ROOT / "site.yaml")
    fragments = [Fragment(f.role, f.name, f.text.replace("CONFGEN_START_INTERACTIVE = True", "CONFGEN_START_INTERACTIVE = (True")) for f in render_site(site)]
    report = validate(site, fragments)
    assert any(d.code == "classad" and d.path == "START" for d in report.diagnostics)


def test_a_wrong_start_policy_fails_the_built_in_checks():  # type: ignore[no-untyped-def]
    site = load_site(ROOT / "site.yaml")
    fragments = [Fragment(f.role, f.name, f.text.replace("(MY.NodeIsHealthy =?= True)", "(MY.NodeIsHealthy =!= False)")) for f in render_site(site)]
    report = validate(site, fragments)
    assert any("not yet reported" in d.message for d in report.diagnostics)


# Bounds for any malformed file: wall time and peak memory of the whole `confgen check` process
# (interpreter, bindings and the parser's child included). A healthy check of the shipped site takes
# about 0.5 s and 60 MB; the bounds leave room for a slow CI machine, not for a hang or a blow-up.
TIME_BOUND_S = 15.0
RSS_BOUND_MB = 400

MEASURE = PEAK_MB + """
import sys, time
from confgen.cli import main
started = time.monotonic()
code = main(["check", sys.argv[1]])
print(f"MEASURED {code} {time.monotonic() - started:.3f} {peak_mb()}", file=sys.stderr)
"""


def _dup_line(text: str, line: str) -> str:
    assert text.count(line + "\n") >= 1, line
    return text.replace(line + "\n", line + "\n" + line + "\n", 1)


EXAMPLE = example_text()
MALFORMED: dict[str, tuple[bytes, str | None]] = {
    "yaml syntax error": (b"site: {name: [BAF\n", "YAML syntax"),
    "tab indentation": (EXAMPLE.replace("  name: BAF", "\tname: BAF", 1).encode(), "indent with spaces"),
    "byte-order mark": (b"\xef\xbb\xbf" + EXAMPLE.encode(), None),
    "non-UTF-8 bytes": (b"site: {name: \xff\xfe}\n", "not valid UTF-8"),
    "empty file": (b"", "the file is empty"),
    "only a comment": (b"# nothing here\n", "the file is empty"),
    "alias bomb": (b"a: &a [1,1,1,1,1,1,1,1,1]\n" + b"".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n".encode() for i in range(8)), "alias bomb"),
    "deep nesting, flow": (b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested deeper"),
    "deep nesting, block": ("".join(" " * i + f"k{i}:\n" for i in range(2000)).encode(), "nested deeper"),
    "duplicate key, top level": (_dup_line(EXAMPLE, "network:").encode(), "duplicate key 'network'"),
    "duplicate key, level 2": (_dup_line(EXAMPLE, "  uid_domain: physik.uni-bonn.de").encode(), "duplicate key 'uid_domain'"),
    "duplicate key, level 3": (_dup_line(EXAMPLE, "    Rocky9: /cvmfs/images.physik.uni-bonn.de/rocky9/latest").encode(), "duplicate key 'Rocky9'"),
    "duplicate key, level 4": (_dup_line(EXAMPLE, "    default: low").encode(), "duplicate key 'default'"),
    "duplicate key, in a list item": (EXAMPLE.replace("    job: {ContainerOS: Debian12}\n", "    job: {ContainerOS: Debian12, ContainerOS: Rocky9}\n", 1).encode(), "duplicate key 'ContainerOS'"),
    "a key that is not a string": (b"1: x\n", "is not a string"),
    "a 50 MB file": (b"#" * (50 * 1024 * 1024), "larger than"),
    "NUL bytes": (b"site:\x00\n", "U+0000 is not allowed"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_exit_1_one_clear_message_bounded(case, tmp_path):  # type: ignore[no-untyped-def]
    content, needle = MALFORMED[case]
    (tmp_path / "site.yaml").write_bytes(content)
    proc = subprocess.run([sys.executable, "-c", MEASURE, "site.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=TIME_BOUND_S * 4)
    measured = [line for line in proc.stderr.splitlines() if line.startswith("MEASURED ")]
    assert measured, proc.stderr
    _, code, seconds, rss_mb = measured[0].split()
    print(f"{case}: exit {code}, {seconds} s, {rss_mb} MB")
    assert float(seconds) < TIME_BOUND_S and int(rss_mb) < RSS_BOUND_MB, (case, seconds, rss_mb)
    assert "Traceback" not in proc.stdout + proc.stderr
    if case == "byte-order mark":
        assert code == "0", proc.stdout
        return
    assert code == "1", proc.stdout + proc.stderr
    errors = proc.stdout.splitlines()
    assert len(errors) == 1, errors  # one clear message, not a cascade
    assert re.match(r"^site\.yaml(:\d+:\d+)?: error: ", errors[0]), errors[0]
    if needle:
        assert needle in errors[0], errors[0]
