"""The committed output/ is what confgen renders from the committed site.yaml."""

from __future__ import annotations

from tests.conftest import ROOT


def test_output_is_up_to_date(run, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    code, out, err = run("render", "--check")
    assert code == 0, f"output/ is stale; run `confgen render` and commit it:\n{out}{err}"
