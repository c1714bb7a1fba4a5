"""The backfill decision of a draining node with the runtime attribute in hours, on real HTCondor daemons:
the same rule as tests/pool/test_reboot_draining.py (seconds), in whole hours. A job from before the
drain asked for 2 hours, so the drain is expected to end 2 hours (plus the starter's grace) after it
began; a job asking for 1 hour ends before that and starts on the draining node, one asking for 2 hours
ends a little after it (the drain began earlier) and stays idle.

One node of one class; the reboot check is the same STAND-IN; everything else is the rendered
configuration with the test-only overrides of test_reboot_draining.OVERRIDES. The site shares no name
with the example."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from confgen.render.runtime import GRACE_S
from confgen.site.model import Site
from tests import unambiguous_yaml
from tests.conftest import site_from_text
from tests.pool.chroot import SUBMITTER, Root, wait_for
from tests.pool.pool import Pool, wait_job
from tests.pool.test_loopback_pool import better_analyze, description, submit_ok
from tests.pool.test_reboot_draining import DUE_DIR, drain_window, node_where, reboot_pool, slot_of

SITE = {
    "site": {"name": "HRS", "uid_domain": "hours.example", "central_managers": ["head.hours.example"]},
    "security": {"methods": ["FS"]},
    "containers": {"job_attribute": "Distro", "default": "Plain7", "images": {"Plain7": "/images/plain7"}},
    "job_attributes": {"MaxHours": {"type": "integer", "min": 1, "max": 48, "default": 1, "runtime": "hours"}},
    "reboots": {"check": "/opt/check-reboot", "spread_days": 0, "max_draining": {"solo": 1}},
    "node_classes": {"solo": {"interactive": "allowed", "nodes": 1}},
}
NODE = "h1"
ORIGINAL_HOURS = 2


@pytest.fixture(scope="module")
def site() -> Site:
    return site_from_text(unambiguous_yaml.dump(SITE, sort_keys=False))


@pytest.fixture(scope="module")
def pool(root: Root, site: Site) -> Iterator[Pool]:
    yield from reboot_pool(root, site, (NODE,))


def job(site: Site, hours: int, sleep: int) -> str:
    return description(site, extra=f"+MaxHours = {hours}\nrequirements = {slot_of(NODE)}\n", command=f"sleep {sleep}")


def test_a_draining_node_decides_backfill_in_whole_hours(pool: Pool, site: Site) -> None:
    original = submit_ok(pool, job(site, ORIGINAL_HOURS, 300))
    assert wait_job(pool, original, {"running", "held", "completed"}, timeout=90) == "running", better_analyze(pool, original)
    pool.root.write(f"{DUE_DIR}/{NODE}", "due\n")
    wait_for("the node to drain", lambda: node_where(pool, "Draining =?= True") == [NODE], timeout=60)
    window = wait_for("the drain's expected end", lambda: (w := drain_window(pool, NODE)) > 3600 and w, timeout=30)
    # the drain waits for the original job's limit: 2 h + the grace, less the seconds since it started
    assert ORIGINAL_HOURS * 3600 + GRACE_S - 120 < window <= ORIGINAL_HOURS * 3600 + GRACE_S, window
    short, long = submit_ok(pool, job(site, 1, 2)), submit_ok(pool, job(site, ORIGINAL_HOURS, 2))
    assert wait_job(pool, short, {"completed", "held"}, timeout=60) == "completed", better_analyze(pool, short)
    assert node_where(pool, "Draining =?= True") == [NODE], "the 1-hour job ran, but the node was no longer draining"
    assert pool.job_status(long) == "idle", better_analyze(pool, long)
    assert pool.q(str(long), "-af", "LastRejMatchTime").strip().isdigit(), better_analyze(pool, long)
    print(f"\n{NODE} draining, expected to end in {window} s: a job with MaxHours = 1 ran on it; "
          f"one with MaxHours = {ORIGINAL_HOURS} stayed idle ({pool.job_status(long)})")
    pool.root.run("condor_rm", str(long), str(original), env=pool.env("submit"), user=SUBMITTER, check=False)
