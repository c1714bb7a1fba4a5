"""A real JupyterHub with confgen's spawner, fed by the shipped site's rendered output/jupyterhub/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from confgen.render import render_site
from confgen.render.jupyterhub import OPTIONS_FILE, ROLE, SNIPPET_FILE
from confgen.site.model import Site
from tests.conftest import example_text, site_from_text
from tests.hub.hub import RECORDER, Hub


def write_hub_files(site: Site, directory: Path) -> tuple[Path, Path]:
    """output/jupyterhub/ of a site, as Puppet would put it on the hub host."""
    directory.mkdir(parents=True, exist_ok=True)
    for frag in render_site(site):
        if frag.role == ROLE:
            (directory / frag.name).write_text(frag.text)
    return directory / SNIPPET_FILE, directory / OPTIONS_FILE


@pytest.fixture(scope="module")
def shipped_site() -> Site:
    return site_from_text(example_text())


@pytest.fixture(scope="module")
def recorded_hub(shipped_site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """The hub with the condor_* STAND-IN that records calls (no pool)."""
    work = tmp_path_factory.mktemp("hub")
    snippet, options = write_hub_files(shipped_site, work / "confgen")
    record = work / "record"
    record.mkdir()
    hub = Hub(work, snippet, options, extra=f"""
c.SiteCondorSpawner.exec_prefix = "env CONFGEN_USER={{username}}"  # where sudo -E -u {{username}} would be
c.SiteCondorSpawner.batch_submit_cmd = "{RECORDER} submit"
c.SiteCondorSpawner.batch_query_cmd = "{RECORDER} q {{job_id}}"
c.SiteCondorSpawner.batch_cancel_cmd = "{RECORDER} rm {{job_id}}"
""", env={"CONFGEN_RECORD_DIR": str(record)})
    hub.record = record  # type: ignore[attr-defined]
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def submitted(hub: Hub) -> list[str]:
    path = hub.record / "calls.jsonl"  # type: ignore[attr-defined]
    if not path.exists():
        return []
    calls = [json.loads(line) for line in path.read_text().splitlines()]
    return [c["description"] for c in calls if c["verb"] == "submit"]
