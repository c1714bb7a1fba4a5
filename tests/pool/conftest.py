"""The site the pool tests run: the shipped site.yaml, loaded once per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from confgen.site import load_site
from confgen.site.model import Site

SITE_PATH = Path(__file__).resolve().parents[2] / "site.yaml"


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(SITE_PATH)
