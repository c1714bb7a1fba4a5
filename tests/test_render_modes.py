"""What `render --check`, `--dry-run` and `--diff` show, and the exit codes CI tells apart:
0 up to date, 4 the output would change, 1 the site is invalid. JSON output is always one JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import Run, example_text


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "site.yaml").write_text(example_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def edit(workdir: Path) -> str:
    """Change one value of the site; returns the new pool name."""
    data = yaml.safe_load((workdir / "site.yaml").read_text())
    data["site"]["name"] = "RENAMED"
    (workdir / "site.yaml").write_text(yaml.safe_dump(data))
    return "RENAMED"


def test_exit_codes_tell_up_to_date_would_change_and_invalid_apart(workdir: Path, run: Run) -> None:
    assert run("render", "--check")[0] == 4  # nothing rendered yet: everything would be created
    assert run("render")[0] == 0
    assert run("render", "--check")[0] == 0
    edit(workdir)
    assert run("render", "--check")[0] == 4
    (workdir / "site.yaml").write_text("site: [\n")
    assert run("render", "--check")[0] == 1


def test_diff_shows_the_change_itself(workdir: Path, run: Run) -> None:
    assert run("render")[0] == 0
    name = edit(workdir)
    code, out, err = run("render", "--check", "--diff")
    assert code == 4, err
    assert "--- output/central-manager/40-central-manager.conf\n+++ output/central-manager/40-central-manager.conf\n" in out
    assert any(line.startswith("+") and name in line for line in out.splitlines()), out
    assert any(line.startswith("-") and "BAF" in line for line in out.splitlines()), out
    before = {p: p.read_bytes() for p in (workdir / "output").rglob("*") if p.is_file()}
    assert run("render", "--dry-run", "--diff")[1] == out  # the same diff, exit 0
    assert {p: p.read_bytes() for p in (workdir / "output").rglob("*") if p.is_file()} == before  # nothing written


def test_dry_run_lists_only_changes_unless_verbose(workdir: Path, run: Run) -> None:
    assert run("render")[0] == 0
    (workdir / "output" / "submit" / "99-old.conf").write_text("X = 1\n")
    code, out, _ = run("render", "--dry-run")
    assert code == 0 and out.splitlines() == ["stale     output/submit/99-old.conf", "confgen: 1 file(s) would change"]
    code, out, _ = run("render", "--dry-run", "--verbose")
    assert "unchanged output/submit/10-pool.conf" in out and "stale     output/submit/99-old.conf" in out


def test_json_is_one_document_in_every_mode(workdir: Path, run: Run) -> None:
    for args in (["check"], ["render", "--check"], ["render"], ["render", "--check", "--diff"], ["render", "--dry-run"]):
        code, out, _ = run(*args, "--format", "json")
        doc = json.loads(out)
        assert isinstance(doc, dict) and "summary" in doc, (args, out)
    edit(workdir)
    code, out, _ = run("render", "--check", "--diff", "--format", "json")
    doc = json.loads(out)
    assert code == 4 and doc["state"] == "would-change" and all("diff" in c for c in doc["changes"])
    (workdir / "site.yaml").write_text("site: [\n")
    code, out, _ = run("check", "--format", "json")
    assert code == 1 and isinstance(json.loads(out), list)  # the problems, each with file, line and column


def test_diff_without_check_or_dry_run_is_a_usage_error(workdir: Path, run: Run) -> None:
    code, _, err = run("render", "--diff")
    assert code == 2 and "--diff and --verbose go with --check or --dry-run" in err
    assert not (workdir / "output").exists()


def test_an_output_path_that_is_a_file_is_said_so_and_nothing_is_written(workdir: Path, run: Run) -> None:
    (workdir / "afile").write_text("mine\n")
    code, _, err = run("render", "-o", "afile")
    assert code == 1 and "afile is a file, not a directory: nothing was written" in err, err
    code, _, err = run("render", "-o", "afile/sub")
    assert code == 1 and "cannot create the output directory afile/sub" in err and "nothing was written" in err, err
    assert (workdir / "afile").read_text() == "mine\n"
