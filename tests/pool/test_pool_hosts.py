"""security.pool_hosts on real daemons: the daemon identity is accepted only from the pool's hosts.

The execute instance stands for a host of its own: it runs on 127.0.0.2, named wn1.outside.example in
the chroot's /etc/hosts, while the central manager and the access point are on 127.0.0.1 (named as the
site's central managers). It authenticates as the daemon identity condor@<uid_domain> either way — as
the Kerberos host principal of any host in the realm would — so only its host decides.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from confgen.render import render_site
from confgen.site.model import Site
from tests.conftest import site_from_text
from tests.pool.chroot import Root, wait_for
from tests.pool.pool import BASE, Pool

SITE_PATH = Path(__file__).resolve().parents[2] / "site.yaml"
NODE = ("127.0.0.2", "wn1.outside.example")


def site_with_pool_hosts(hosts: list[str]) -> Site:
    text = SITE_PATH.read_text(encoding="utf-8")
    base = site_from_text(text)
    listed = ", ".join(f"'{h}'" for h in hosts)
    # security.pool_hosts, inserted after the security section's first key.
    marker = "\nsecurity:\n"
    assert marker in text
    site = site_from_text(text.replace(marker, f"{marker}  pool_hosts: [{listed}]\n", 1))
    assert site.pool_hosts == tuple(hosts) and base.central_managers == site.central_managers
    return site


def start(root: Root, site: Site) -> Pool:
    root.kill_all()
    pool = Pool(root, render_site(site))
    pool.execute_host = NODE
    pool.start_central_and_submit()
    return pool


def test_a_daemon_outside_the_pool_hosts_is_refused_by_the_collector(root: Root) -> None:
    base = site_from_text(SITE_PATH.read_text(encoding="utf-8"))
    pool = start(root, site_with_pool_hosts(list(base.central_managers)))
    try:
        pool.start("exec", base.node_classes[0].role)
        log = root.host(f"{BASE}/cm/local/log/CollectorLog")
        denied = f"PERMISSION DENIED to condor@{base.uid_domain} from host {NODE[0]}"
        wait_for("the collector to refuse the node's ads", lambda: denied in log.read_text(errors="replace"), timeout=60)
        assert pool.status("-af", "Name") == ""  # no slot of the outside host reached the pool
    finally:
        root.kill_all()


@pytest.mark.parametrize("listed", ["*.outside.example", "127.0.0.0/8"], ids=["name-pattern", "network"])
def test_a_daemon_on_a_listed_host_joins_the_pool(root: Root, listed: str) -> None:
    base = site_from_text(SITE_PATH.read_text(encoding="utf-8"))
    pool = start(root, site_with_pool_hosts([*base.central_managers, listed]))
    try:
        pool.start_execute(base.node_classes[0].role)
        assert f"<{NODE[0]}:" in pool.status("-af", "MyAddress")
    finally:
        root.kill_all()
