"""Another site's vocabulary on real HTCondor daemons: a health script that publishes its own attribute
name gates START, and a runtime limit in seconds is enforced by HTCondor. The site below shares no
name with the example (its health attribute, runtime attribute and unit, OS attribute, OSes, class).
The health script is a STAND-IN printing the site's name (tests/pool/pool.py), the container runtime
the recording STAND-IN; everything else is the rendered configuration on real daemons."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from confgen.render import render_site
from confgen.render.runtime import GRACE_S, HOLD_SUBCODE
from confgen.site.model import Site
from tests import unambiguous_yaml
from tests.conftest import site_from_text
from tests.pool.chroot import Root, wait_for
from tests.pool.pool import Pool, wait_job
from tests.pool.test_loopback_pool import better_analyze, description, stays_idle, submit_ok

SITE = {
    "site": {"name": "VOCAB", "uid_domain": "lab.example", "central_managers": ["head.lab.example"]},
    "security": {"methods": ["FS"]},
    "containers": {"job_attribute": "WantOS", "default": "Alma9",
                   "images": {"Alma9": "/images/alma9", "Leap15": "/images/leap15"}},
    "job_attributes": {"MaxRuntime": {"type": "integer", "min": 1, "max": 604800, "interactive_max": 28800,
                                      "default": 7200, "runtime": "seconds"}},
    "health": {"script": "/usr/local/libexec/healthcheck", "period": "1m", "publishes": {"healthy": "NODE_IS_HEALTHY"}},
    "reboots": {"check": "/usr/local/sbin/needs-reboot"},
    "node_classes": {"worker": {"interactive": "allowed"}},
}
LIMIT_S = 4


@pytest.fixture(scope="module")
def site() -> Site:
    return site_from_text(unambiguous_yaml.dump(SITE, sort_keys=False))


@pytest.fixture(scope="module")
def pool(root: Root, site: Site) -> Iterator[Pool]:
    root.kill_all()
    the_pool = Pool(root, render_site(site), site.health_names)
    try:
        the_pool.start_central_and_submit()
        the_pool.start_execute(site.node_classes[0].role)
        yield the_pool
    finally:
        root.kill_all()


def job_attrs(pool: Pool, cluster: int, *attrs: str) -> list[str]:
    out = pool.root.run("condor_q", "-allusers", str(cluster), "-af:t", *attrs, env=pool.env("submit"), check=False).stdout.strip()
    if not out:
        out = pool.root.run("condor_history", str(cluster), "-limit", "1", "-af:t", *attrs, env=pool.env("submit"), check=False).stdout.strip()
    return [value.strip() for value in out.split("\t")]


def test_the_sites_own_health_attribute_gates_start(pool: Pool, site: Site) -> None:
    names = site.health_names
    assert (names.healthy, names.interactive) == ("NODE_IS_HEALTHY", None)
    pool.set_health(False)
    try:
        wait_for("the slot to report unhealthy", lambda: pool.slot_attr(names.healthy) == "false", timeout=30)
        assert pool.slot_attr("NodeIsHealthy") == "undefined"  # START does not read the example's name
        cluster = submit_ok(pool, description(site, site.default_os))
        stays_idle(pool, cluster)
    finally:
        pool.set_health(True)
    wait_for("the slot to report healthy", lambda: pool.slot_attr(names.healthy) == "true", timeout=30)
    assert wait_job(pool, cluster, {"completed", "held"}) == "completed", better_analyze(pool, cluster)
    # interactive jobs need only the one attribute when the site names no second one
    cluster = submit_ok(pool, description(site, site.default_os, interactive=True))
    assert wait_job(pool, cluster, {"completed", "held"}) == "completed", better_analyze(pool, cluster)


def test_a_job_running_past_its_runtime_limit_in_seconds_is_held_with_a_reason_naming_it(pool: Pool, site: Site) -> None:
    slow = description(site, site.default_os, extra=f"+MaxRuntime = {LIMIT_S}\n", command="sleep 300")
    cluster = submit_ok(pool, slow)
    assert wait_job(pool, cluster, {"running"}, timeout=60) == "running"
    started = time.time()
    assert wait_job(pool, cluster, {"held", "completed"}, timeout=60) == "held"
    held_after = time.time() - started
    reason, code, subcode, allowed = job_attrs(pool, cluster, "HoldReason", "HoldReasonCode", "HoldReasonSubCode", "AllowedExecuteDuration")
    assert f"MaxRuntime = {LIMIT_S} seconds" in reason, reason
    assert (code, subcode) == ("26", str(HOLD_SUBCODE)), reason  # 26: a system periodic hold
    assert int(allowed) == LIMIT_S + GRACE_S  # the starter's backstop, from the transform
    assert held_after < 30, held_after  # the limit plus a few periodic evaluations (every 2 s here)


def test_a_job_within_its_runtime_limit_completes(pool: Pool, site: Site) -> None:
    quick = description(site, site.default_os, extra="+MaxRuntime = 120\n", command="sleep 6")
    cluster = submit_ok(pool, quick)
    assert wait_job(pool, cluster, {"held", "completed"}, timeout=90) == "completed", better_analyze(pool, cluster)
    assert job_attrs(pool, cluster, "AllowedExecuteDuration") == [str(120 + GRACE_S)]


def test_a_jobs_own_shorter_allowed_execute_duration_is_kept_and_enforced_by_the_starter(pool: Pool, site: Site) -> None:
    own = description(site, site.default_os, extra="allowed_execute_duration = 3\n", command="sleep 300")
    cluster = submit_ok(pool, own)
    assert wait_job(pool, cluster, {"held", "completed"}, timeout=90) == "held"
    reason, allowed, runtime = job_attrs(pool, cluster, "HoldReason", "AllowedExecuteDuration", "MaxRuntime")
    assert allowed == "3" and runtime == "7200", (allowed, runtime)  # the site default applied, the job's own limit kept
    assert "allowed execute duration" in reason, reason
