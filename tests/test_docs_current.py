"""docs/site-reference.md is what scripts/gen_site_reference.py makes of the schema and the example."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_site_reference_is_current() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_site_reference.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
