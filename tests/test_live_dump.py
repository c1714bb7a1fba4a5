"""The pieces of `confgen diff --live` that need no HTCondor host: reading a saved dump, and telling
the role a host already has from the first line of its confgen files."""

from __future__ import annotations

from pathlib import Path

from confgen.live.command import _deployed_role
from confgen.live.dump import parse_dump
from confgen.render import render_site
from tests.conftest import example_text, site_from_text

DUMP = """# Configuration from machine: wn042.example.org
ACCOUNTING_DOMAIN = example.org
 # at: <Default>
 # raw: $(UID_DOMAIN)
 # default: $(UID_DOMAIN)
ACCOUNTANT_HOST =\x20
 # at: <Default>
 # raw:\x20
START = (KeyboardIdle > 15 * 60)
 # at: {config_dir}/50-old.conf, line 3
 # raw: (KeyboardIdle > 15 * 60)
FULL_HOSTNAME = wn042.example.org
 # at: <Detected>
 # raw: wn042.example.org
"""


def test_a_saved_dump_is_read_with_values_sources_raw_and_defaults(tmp_path: Path) -> None:
    dump = parse_dump(DUMP.format(config_dir=tmp_path))
    assert dump.host == "wn042.example.org"
    assert dump.knobs["ACCOUNTING_DOMAIN"].raw == "$(UID_DOMAIN)" and dump.knobs["ACCOUNTING_DOMAIN"].source_file is None
    assert dump.knobs["ACCOUNTANT_HOST"].value == ""
    assert dump.knobs["START"].source_file == f"{tmp_path}/50-old.conf"
    assert dump.knobs["FULL_HOSTNAME"].at == "<Detected>"


def test_the_role_a_host_has_is_read_from_its_confgen_files(tmp_path: Path) -> None:
    site = site_from_text(example_text())
    role = sorted({f.role for f in render_site(site)} - {"jupyterhub"})[-1]
    frag = next(f for f in render_site(site) if f.role == role and f.name == "10-pool.conf")
    (tmp_path / "10-pool.conf").write_text(frag.text)
    dump = parse_dump(DUMP.format(config_dir=tmp_path).replace("50-old.conf, line 3", "10-pool.conf, line 3"))
    assert _deployed_role(dump, str(tmp_path)) == role
    (tmp_path / "10-pool.conf").write_text("# written by hand\nSTART = True\n")
    assert _deployed_role(dump, str(tmp_path)) is None
