"""`site.htcondor_version`: confgen check validates with the HTCondor wheel of the pool's release series
(confgen/wheels.py), says which release read the roles, says how to install a missing one, and
refuses a release older than confgen supports (confgen/site/version.py).

Real parts: the htcondor wheels from the machine's pip index (24.0 and 25.0 LTS, installed with
`pip install --no-deps --target DIR`; .ci/run does this and exports CONFGEN_HTCONDOR_24_0/_25_0), their
config parser and classad2. The comparison runs tests/series_probe.py once per wheel in a child process
whose PYTHONPATH starts with the wheel's directory, so loading and evaluating both use that release.
Without a wheel the comparison is skipped, except under CI=true, where it fails.

Compared exactly, with two exceptions that the release does not decide: knobs defined with
$RANDOM_INTEGER/$RANDOM_CHOICE (a new draw on every load; compared for being set) and the node's
SiteBootTime in explain (the clock). Boolean knob values are compared without letter case: 24.0 reads
`ENABLE_SSH_TO_JOB = True` back as 'True', 25.14.1 as 'true' (HTCondor's booleans ignore case).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from confgen import wheels
from confgen.render import render_site
from confgen.site.version import OLDEST_SUPPORTED
from confgen.validate.parser import assignments
from tests.conftest import ROOT, Run, example_text, site_from_text

LTS = [(24, 0), (25, 0)]
CHILD_IMPORTS = "import os; os.environ['CONDOR_CONFIG'] = '/dev/null'; import htcondor2; print(htcondor2.__file__)"


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def wheel_dir(series: wheels.Series) -> Path:
    """The installed wheel of `series`: skipped when there is none, a failure under CI."""
    found = wheels.find(series)
    if found is None or found.path is None:
        where = f"{wheels.env_var(series)} or {wheels.cache_dir(series)}"
        if _ci():
            pytest.fail(f"CI must compare HTCondor {wheels.label(series)}: no wheel in {where} (.ci/run installs it)")
        pytest.skip(f"no htcondor {wheels.label(series)} wheel in {where} (`confgen install-htcondor --series {wheels.label(series)}`)")
    return found.path


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a probe: no CONFGEN_HTCONDOR_* and an empty cache, so only PYTHONPATH picks the wheel."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFGEN_HTCONDOR_") and k != "PYTHONPATH"}
    return {**env, "XDG_CACHE_HOME": "/nonexistent-confgen-cache", **extra}


@cache
def probe(directory: str | None) -> dict[str, Any]:
    """tests/series_probe.py on the shipped site with the wheel in `directory` (None: the pinned one)."""
    path = os.pathsep.join([directory, str(ROOT)] if directory else [str(ROOT)])
    proc = subprocess.run([sys.executable, "-W", "ignore", "-m", "tests.series_probe", str(ROOT / "site.yaml")], cwd=ROOT,
                          env=clean_env(PYTHONPATH=path), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def random_knobs() -> set[str]:
    """Knobs the shipped site defines with a random draw (each load draws again)."""
    site = site_from_text(example_text())
    return {knob.upper() for f in render_site(site) if f.is_config for knob, line in assignments(f.text)
            if "$RANDOM_" in f.text.split("\n")[line - 1]}


def comparable(result: dict[str, Any], drawn: set[str]) -> dict[str, Any]:
    knobs = {role: {k: (v is not None) if k in drawn else v.lower() if v is not None and v.lower() in ("true", "false") else v
                    for k, v in values.items()} for role, values in result["knobs"].items()}
    explain = [{**e, "node": {k: v for k, v in e["node"].items() if k != "SiteBootTime"}} for e in result["explain"]]
    return {"knobs": knobs, "load_problems": result["load_problems"], "check": result["check"], "explain": explain}


@pytest.mark.parametrize("series", LTS, ids=wheels.label)
def test_the_shipped_site_loads_and_evaluates_identically_with_the_lts_wheel(series: wheels.Series) -> None:
    directory = wheel_dir(series)
    lts, pinned = probe(str(directory)), probe(None)
    for module in ("htcondor2", "classad2", "child_htcondor2"):  # this process and the parser's child both used the wheel
        assert Path(lts[module]).is_relative_to(directory), (module, lts[module])
    assert f" {wheels.label(series)}." in lts["version"] and wheels.pinned().version in pinned["version"]
    assert not lts["load_problems"] and "0 problem(s)" in lts["check"]["summary"], lts["check"]
    drawn = random_knobs()
    assert drawn, "the shipped site is expected to draw reboot delays at random"
    assert comparable(lts, drawn) == comparable(pinned, drawn)


@pytest.mark.parametrize("series", LTS, ids=wheels.label)
def test_the_parsers_child_imports_the_chosen_wheel(series: wheels.Series) -> None:
    directory = wheel_dir(series)
    wheel = wheels.find(series)
    with wheels.parser_uses(wheel):
        env = wheels.child_env(clean_env())
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", CHILD_IMPORTS], env=env, capture_output=True, text=True, check=True).stdout
    assert Path(out.strip()).is_relative_to(directory)


def note_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.endswith("(htcondor-version)")]


def position(site_text: str) -> str:
    site = site_from_text(site_text)
    line, col = site.doc.position(("site", "htcondor_version"))
    return f"site.yaml:{line}:{col}: note: site.htcondor_version: "


def test_check_names_the_series_wheel_that_read_the_roles(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    series = site_from_text(example_text()).htcondor_version
    directory = wheel_dir(series)
    monkeypatch.setenv(wheels.env_var(series), str(directory))
    (tmp_path / "site.yaml").write_text(example_text())
    code, out, err = run("check", str(tmp_path / "site.yaml"))
    version = wheels.installed_version(directory)
    assert code == 0 and note_lines(out) == [position(example_text()).replace("site.yaml", str(tmp_path / "site.yaml"), 1)
                                             + f"HTCondor {version} (the wheel in {directory}) read every role: the pool's oldest series, "
                                             f"{wheels.label(series)}; the checks were evaluated with classad2 {wheels.pinned().version} (htcondor-version)"], out + err


def test_a_missing_series_wheel_is_a_note_that_names_the_install_command(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    series = site_from_text(example_text()).htcondor_version
    assert series != wheels.pinned().series, "the shipped site is expected to name an older series than the pinned wheel"
    monkeypatch.delenv(wheels.env_var(series), raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "site.yaml").write_text(example_text())
    code, out, _ = run("check", str(tmp_path / "site.yaml"))
    notes = note_lines(out)
    assert code == 0 and len(notes) == 1, out
    assert f"the wheel confgen depends on) validated this site, not the pool's oldest series {wheels.label(series)}" in notes[0]
    assert f"`confgen install-htcondor` puts htcondor=={wheels.label(series)}.* into {tmp_path / 'cache'}" in notes[0]
    assert notes[0].startswith(str(tmp_path / "site.yaml") + position(example_text()).removeprefix("site.yaml")), notes[0]
    code, out, _ = run("check", "--format", "json", str(tmp_path / "site.yaml"))
    assert [n["code"] for n in json.loads(out)["notes"]].count("htcondor-version") == 1


def test_a_series_directory_without_the_wheel_is_named_in_the_note(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    series = site_from_text(example_text()).htcondor_version
    monkeypatch.setenv(wheels.env_var(series), str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "site.yaml").write_text(example_text())
    code, out, _ = run("check", str(tmp_path / "site.yaml"))
    assert code == 0 and f"{wheels.env_var(series)}={tmp_path / 'empty'} holds no htcondor {wheels.label(series)} wheel" in "".join(note_lines(out)), out


def with_version(version: str) -> str:
    site = site_from_text(example_text())
    text = example_text()
    line = text.split("\n")[site.doc.position(("site", "htcondor_version"))[0] - 1]
    return text.replace(line, line.replace(f'"{site.htcondor_version[0]}.{site.htcondor_version[1]}"', f'"{version}"', 1), 1)


@pytest.mark.parametrize("version", ["23.10", "23.0", "10.0"])
def test_a_release_older_than_the_floor_is_refused_at_its_key(run: Run, tmp_path: Path, version: str) -> None:
    text = with_version(version)
    (tmp_path / "site.yaml").write_text(text)
    code, out, _ = run("check", str(tmp_path / "site.yaml"))
    oldest = wheels.label(OLDEST_SUPPORTED)
    where = position(with_version(oldest)).replace(": note: ", ": error: ")
    assert code == 1 and f"{where}HTCondor {version} is older than {oldest}, the oldest release confgen supports" in out.replace(str(tmp_path / "site.yaml"), "site.yaml"), out
    assert f'write htcondor_version: "{oldest}"' in out


def test_the_floor_itself_and_a_newer_feature_series_are_accepted(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for version in [wheels.label(OLDEST_SUPPORTED), "24.12"]:
        (tmp_path / "site.yaml").write_text(with_version(version))
        code, out, err = run("check", str(tmp_path / "site.yaml"))
        assert code == 0 and len(note_lines(out)) == 1, out + err


def test_install_htcondor_then_check_validates_with_that_series(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin's two commands, with real pip. The test session has no network, so pip reads the wheel
    from a directory (CONFGEN_TEST_WHEELHOUSE, filled by `pip download --no-deps`; .ci/run does it)."""
    series = site_from_text(example_text()).htcondor_version
    wheelhouse = os.environ.get("CONFGEN_TEST_WHEELHOUSE")
    if not wheelhouse or not list(Path(wheelhouse).glob(f"htcondor-{wheels.label(series)}.*.whl")):
        if _ci():
            pytest.fail(f"CI must run install-htcondor: no htcondor {wheels.label(series)} wheel in CONFGEN_TEST_WHEELHOUSE={wheelhouse!r}")
        pytest.skip(f"no htcondor {wheels.label(series)} wheel file in CONFGEN_TEST_WHEELHOUSE (the session has no network for pip)")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", wheelhouse)
    monkeypatch.delenv(wheels.env_var(series), raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "site.yaml").write_text(example_text())
    code, out, err = run("install-htcondor", str(tmp_path / "site.yaml"))
    target = wheels.cache_dir(series)
    version = wheels.installed_version(target)
    assert code == 0 and version is not None and wheels.series_of(version) == series, out + err
    assert f"htcondor {version} in {target}" in out
    code, out, err = run("check", str(tmp_path / "site.yaml"))
    assert code == 0 and f"HTCondor {version} (the wheel in {target}) read every role" in "".join(note_lines(out)), out + err


def test_install_htcondor_refuses_a_series_that_is_not_major_minor(run: Run) -> None:
    code, _, err = run("install-htcondor", "--series", "24")
    assert code == 2 and "write MAJOR.MINOR" in err


def _check_in_process(site_file: Path) -> tuple[Any, list[Any], Any]:
    """(the child started early, the children discarded unused, the report) of one check as the command runs it."""
    from confgen import parser_process
    from confgen.site import load_site
    from confgen.validate import validate

    discarded: list[Any] = []
    real_discard = parser_process.discard

    def discard(proc: Any) -> None:
        discarded.append(proc)
        real_discard(proc)

    parser_process.discard = discard
    try:
        with parser_process.started_early(site_file):
            early = parser_process._started
            site = load_site(site_file)
            report = validate(site, render_site(site))
    finally:
        parser_process.discard = real_discard
    return early, discarded, report


def test_the_child_started_early_imports_the_wheel_of_the_series_the_site_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin who installed the series' wheel (as check's note says) gets the early child too: its
    PYTHONPATH starts with that wheel, and it is the one that reads the roles."""
    series = site_from_text(example_text()).htcondor_version
    directory = wheel_dir(series)
    monkeypatch.setenv(wheels.env_var(series), str(directory))
    (tmp_path / "site.yaml").write_text(example_text())
    assert wheels.guess(tmp_path / "site.yaml") == directory
    early, discarded, report = _check_in_process(tmp_path / "site.yaml")
    assert early is not None and early not in discarded and discarded == []
    assert report.ok and f"(the wheel in {directory}) read every role" in report.diagnostics[-1].message


def test_a_wrong_guess_costs_a_child_not_the_series(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guess reads the file as text: a version written with an anchor (`&oldest "24.0"`) is not read,
    so the child started early has this environment's wheel. The loaded site decides: that child is
    discarded, and the wheel of the site's own series reads the roles."""
    series = site_from_text(example_text()).htcondor_version
    directory = wheel_dir(series)
    monkeypatch.setenv(wheels.env_var(series), str(directory))
    quoted = f'"{wheels.label(series)}"'
    text = example_text().replace(f"htcondor_version: {quoted}", f"htcondor_version: &oldest {quoted}", 1)
    assert text != example_text()
    (tmp_path / "site.yaml").write_text(text)
    assert wheels.guess(tmp_path / "site.yaml") is None
    early, discarded, report = _check_in_process(tmp_path / "site.yaml")
    assert early is not None and discarded == [early]
    assert report.ok and f"(the wheel in {directory}) read every role" in report.diagnostics[-1].message
    assert wheels.guess(tmp_path / "missing.yaml") is None


@pytest.mark.parametrize("line", ['  htcondor_version: 24.0', "  htcondor_version: '24.0'  # oldest", '  htcondor_version:    "24.0"'])
def test_the_guess_reads_the_key_as_sites_write_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str) -> None:
    monkeypatch.setenv(wheels.env_var((24, 0)), str(tmp_path / "w"))
    (tmp_path / "w" / "htcondor2").mkdir(parents=True)
    (tmp_path / "w" / "htcondor2" / "__init__.py").write_text("")
    (tmp_path / "w" / "htcondor-24.0.9.dist-info").mkdir()
    (tmp_path / "s.yaml").write_text(f"site:\n  name: x\n{line}\n")
    assert wheels.guess(tmp_path / "s.yaml") == tmp_path / "w"
    (tmp_path / "s.yaml").write_text("site:\n  name: x\n  htcondor_version: *v\n")
    assert wheels.guess(tmp_path / "s.yaml") is None


def test_a_site_read_from_a_pipe_is_read_once_by_the_loader(tmp_path: Path) -> None:
    """`confgen check <(generate-site)`: the guess must not read the pipe (it would take the site's first
    64 KiB from the loader); it guesses nothing, and the site checks as from a file."""
    fifo = tmp_path / "site.fifo"
    os.mkfifo(fifo)
    assert wheels.guess(fifo) is None  # returns at once: a FIFO is not opened
    writer = subprocess.Popen(["sh", "-c", f'cat "$1" > "{fifo}"', "sh", str(ROOT / "site.yaml")])
    try:
        proc = subprocess.run([sys.executable, "-m", "confgen", "check", str(fifo)], capture_output=True, text=True, timeout=120)
    finally:
        writer.wait(timeout=60)
    assert proc.returncode == 0 and "checks evaluated, 0 problem(s)" in proc.stdout, proc.stdout + proc.stderr
