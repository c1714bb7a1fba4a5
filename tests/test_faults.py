"""Bad files, bad output directories and broken fragments: exit 1 with a clear message, output/ untouched."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from confgen.render import Fragment, render_site
from confgen.site import load_site
from confgen.validate import validate
from confgen.validate.parser import load_roles
from tests.conftest import ROOT, example_text


def snapshot_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def workdir(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    (tmp_path / "site.yaml").write_text(example_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\xef\xbb\xbf" + example_text().encode(), None),  # a byte-order mark is accepted
        (b"site: {name: \xff\xfe}\n", "not valid UTF-8"),
        (
            b"a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
            b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
            "alias bomb",
        ),
        (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested deeper"),
        (b"site: {}\nsite: {}\n", "duplicate key 'site'"),
        (b"1: x\n", "is not a string"),
    ],
)
def test_malformed_files_exit_1_quickly(workdir, run, content, needle):  # type: ignore[no-untyped-def]
    (workdir / "site.yaml").write_bytes(content)
    started = time.monotonic()
    code, out, err = run("check")
    assert time.monotonic() - started < 10  # bound: no hang
    assert "Traceback" not in out + err
    if needle is None:
        assert code == 0, out + err
    else:
        assert code == 1 and needle in out, out + err


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
    assert code == 1 and "stale" in out and "99-old.conf" in out
    code, out, _ = run("render")
    assert code == 0 and "99-old.conf" in out
    assert not (workdir / "output" / "submit" / "99-old.conf").exists()
    assert untouched.stat().st_ino == inode  # a role with nothing to change is not rewritten
    assert sorted(p.name for p in (workdir / "output").iterdir()) == sorted([*(workdir / "output" / ".confgen-manifest").read_text().split(), ".confgen-lock", ".confgen-manifest", "notes.txt"])
    assert (workdir / "outside.txt").read_text() == "keep" and (workdir / "output" / "notes.txt").read_text() == "keep"
    assert run("render", "--check")[0] == 0


def test_removed_node_class_directory_is_cleaned(workdir, run):  # type: ignore[no-untyped-def]
    assert run("render")[0] == 0
    text = example_text().replace("  gpu:\n    interactive: allowed\n    gpus: true\n    images: [Rocky9, Ubuntu2004]              # the OSes offered on this class (default: all)\n", "")
    (workdir / "site.yaml").write_text(text)
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
    assert code == 1 and "cannot write" in err and "Traceback" not in out + err
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
        ("  methods: [KERBEROS, FS]", "  methods: [KERBEROS, CLAIMTOBE]", "CLAIMTOBE"),
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
