"""Snapshots: every rendered fragment of the shipped site, and the full report of every invalid site.

A snapshot shows that the text did not change; tests/test_meaning.py shows what the text means."""

from __future__ import annotations

import pytest

from confgen.render import render_site
from confgen.site import load_site
from tests.conftest import ROOT, SITES

SHIPPED = render_site(load_site(ROOT / "site.yaml", display="site.yaml"))
INVALID = sorted(p.name for p in (SITES / "invalid").iterdir() if p.is_dir())


@pytest.mark.parametrize("fragment", SHIPPED, ids=[f"{f.role}__{f.name.replace('/', '__').removesuffix('.conf')}" for f in SHIPPED])
def test_fragment_snapshot(fragment, conf_snapshot):  # type: ignore[no-untyped-def]
    assert fragment.text == conf_snapshot


@pytest.mark.parametrize("case", INVALID)
def test_invalid_site_report(case, run, monkeypatch, text_snapshot):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(SITES / "invalid" / case)
    code, out, err = run("check", "site.yaml")
    assert code == 1, (out, err)
    assert out, "an invalid site must be reported on stdout"
    for line in out.splitlines():
        assert line.startswith("site.yaml:"), line
        _, line_no, col, rest = line.split(":", 3)
        assert int(line_no) >= 1 and int(col) >= 1 and rest.startswith(" error: ")
    assert "Traceback" not in out + err
    assert out == text_snapshot
