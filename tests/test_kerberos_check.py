"""`confgen check` says what Kerberos needs outside confgen (confgen/validate/kerberos.py): the key each
daemon host must hold, and a warning where FS follows KERBEROS (the silent fall-back that
tests/pool/test_kerberos.py shows on real daemons). Notes and warnings never change the exit code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Run, example_text, site_from_text

METHODS = "  methods: [KERBEROS, FS]"


def site_text(methods: str | None = None, *, hub: bool = True, extra: str = "") -> str:
    text = example_text()
    assert METHODS in text
    if methods is not None:
        text = text.replace(METHODS, f"  methods: [{methods}]", 1)
    if not hub:  # the hub needs FS on the access point (a semantic error without it)
        text = re.sub(r"\njupyterhub:.*?(?=\n\S)", "", text, count=1, flags=re.S)
    return text + extra


def check(run: Run, tmp_path: Path, text: str) -> tuple[list[str], list[str], str]:
    (tmp_path / "site.yaml").write_text(text)
    code, out, err = run("check", str(tmp_path / "site.yaml"))
    assert code == 0, out + err
    lines = out.splitlines()
    notes = [line for line in lines if ": note: " in line and line.endswith("(kerberos)")]
    warnings = [line for line in lines if ": warning: " in line and line.endswith("(kerberos)")]
    return notes, warnings, lines[-1]


def test_the_shipped_site_gets_the_principal_form_the_keytab_and_the_fall_back_warning(run: Run, tmp_path: Path) -> None:
    site = site_from_text(example_text())
    assert site.kerberos is not None and site.kerberos.server_keytab
    notes, warnings, summary = check(run, tmp_path, example_text())
    assert len(notes) == 1, notes
    assert f"host/<its fully qualified name>@{site.kerberos.realm} in {site.kerberos.server_keytab}" in notes[0]
    for host in (*site.central_managers, *site.pool_hosts):
        assert host in notes[0], host
    line = next(n for n, text in enumerate(example_text().splitlines(), 1) if text.startswith(METHODS))
    assert len(warnings) == 1 and warnings[0].startswith(f"{tmp_path / 'site.yaml'}:{line}:"), warnings
    assert "FS follows KERBEROS" in warnings[0] and "Authenticated using: KERBEROS" in warnings[0]
    assert summary.endswith(", 0 problem(s), 1 warning(s)"), summary


@pytest.mark.parametrize(("methods", "warned"), [("KERBEROS", False), ("FS, KERBEROS", False), ("KERBEROS, IDTOKENS, FS", True)])
def test_the_warning_needs_fs_after_kerberos(run: Run, tmp_path: Path, methods: str, warned: bool) -> None:
    notes, warnings, summary = check(run, tmp_path, site_text(methods, hub="FS" in methods))
    assert len(notes) == 1 and bool(warnings) == warned, (notes, warnings)
    assert summary.endswith("warning(s)") == warned, summary


def test_no_note_without_kerberos_in_the_methods(run: Run, tmp_path: Path) -> None:
    notes, warnings, summary = check(run, tmp_path, site_text("FS, IDTOKENS"))
    assert notes == warnings == [] and summary.endswith(", 0 problem(s)"), summary


def test_a_principal_set_in_extra_config_is_the_one_the_note_names(run: Run, tmp_path: Path) -> None:
    principal = "condor/ap.example.org@EXAMPLE.ORG"
    notes, _, _ = check(run, tmp_path, site_text(extra=f"\nextra_config:\n  submit:\n    KERBEROS_SERVER_PRINCIPAL: {principal}\n"))
    assert len(notes) == 2, notes
    assert any(f"key of {principal} in" in n and "run submit" in n for n in notes), notes
    assert any("key of host/<its fully qualified name>@" in n and "run submit" not in n for n in notes), notes
