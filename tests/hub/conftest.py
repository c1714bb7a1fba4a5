"""A real JupyterHub with confgen's spawner, fed by the shipped site's rendered output/jupyterhub/."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from confgen.render import render_site
from confgen.render.jupyterhub import OPTIONS_FILE, ROLE, SNIPPET_FILE
from confgen.site.model import Site
from tests.conftest import example_text, site_from_text
from tests.hub.hub import RECORDER, Hub

#: Secrets in the test hubs' environment, as a deployment sets them: none may reach any command the spawner
#: runs (JUPYTERHUB_CRYPT_KEY: 32 bytes, base64, as JupyterHub wants it).
HUB_SECRETS = {
    "CONFIGPROXY_AUTH_TOKEN": "cpat-" + secrets.token_hex(16),
    "OAUTH_CLIENT_SECRET": "ocs-" + secrets.token_hex(16),
    "JUPYTERHUB_CRYPT_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    "SECRET_X": "sx-" + secrets.token_hex(16),
}


def leaked_secrets(env: dict[str, str]) -> list[str]:
    """The names of HUB_SECRETS whose value is anywhere in `env` (a name or a value)."""
    text = "\0".join(f"{k}={v}" for k, v in env.items())
    return [name for name, value in HUB_SECRETS.items() if value in text or name in env]


def recorded_calls(hub: Hub) -> list[dict[str, Any]]:
    path = hub.record / "calls.jsonl"  # type: ignore[attr-defined]
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


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
c.SiteCondorSpawner.command_environment = ["CONFGEN_RECORD_DIR"]  # where the stand-in records
c.JupyterHub.authenticator_class = "tests.hub.lenient_auth.LenientDummyAuthenticator"
""", env={"CONFGEN_RECORD_DIR": str(record), **HUB_SECRETS})
    hub.record = record  # type: ignore[attr-defined]
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def submitted(hub: Hub) -> list[str]:
    return [c["description"] for c in recorded_calls(hub) if c["verb"] == "submit"]
