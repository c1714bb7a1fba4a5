"""The per-class policy and the admin switch on real daemons (issue 12).

The shipped site with: only_gpu_jobs on its class with GPUs; on a class without GPUs its own bind, an
extra START clause on a job attribute of a random name, and slot attributes; the admin switch renamed,
its PERSISTENT_CONFIG_DIR a test directory (created here, root-owned, removed afterwards so no other
pool test inherits a switched-off node). The chroot has no GPUs, so the GPU class shows only the refusal.
Expectations come from the modified site (the model), not from the rendered text.
"""

from __future__ import annotations

import random
import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from confgen.render import render_site
from confgen.site.model import NodeClass, Site
from tests.conftest import site_from_text
from tests.pool.chroot import SUBMITTER, Root, wait_for
from tests.pool.conftest import SITE_PATH
from tests.pool.pool import BASE, Pool
from tests.pool.test_loopback_pool import IDLE_WAIT_S, better_analyze, description, job_mounts, submit_ok, wait_job

RNG = random.Random(12)
JOB_ATTR = RNG.choice(["Campaign", "AcctTag", "WorkflowKind"])
WORD = RNG.choice(["teaching", "tutorial", "dry-run"])
SWITCH = RNG.choice(["AcceptNewJobs", "OpenForJobs"])
SWITCH_DIR = "/var/lib/confgen-test/switch"
ATTRIBUTES: dict[str, Any] = {RNG.choice(["ScratchKind", "DiskFlavour"]): "local-ssd", RNG.choice(["ScratchGB", "RackRow"]): 811, "HasFastNet": True}
START_LOG = f"{BASE}/exec/local/log/StartLog"


def policy_site_text() -> str:
    raw = yaml.safe_load(SITE_PATH.read_text())
    classes = raw["node_classes"]
    gpu = next(name for name, c in classes.items() if c.get("gpus"))
    plain = next(name for name, c in classes.items() if not c.get("gpus") and c.get("interactive", "allowed") != "only")
    classes[gpu]["only_gpu_jobs"] = True
    classes[plain].update(binds=[f"/opt/class-{plain}"], start=f'TARGET.{JOB_ATTR} =!= "{WORD}"', attributes=ATTRIBUTES)
    raw["admin_switch"] = {"attribute": SWITCH, "persistent_dir": SWITCH_DIR}
    return yaml.safe_dump(raw, sort_keys=False)


@pytest.fixture(scope="module")
def site() -> Site:
    return site_from_text(policy_site_text())


def the_class(site: Site, gpus: bool) -> NodeClass:
    return next(c for c in site.node_classes if c.gpus is gpus and (gpus or c.start is not None))


@pytest.fixture(scope="module")
def pool(root: Root, site: Site) -> Iterator[Pool]:
    root.kill_all()
    switch_dir = root.host(SWITCH_DIR)
    shutil.rmtree(switch_dir, ignore_errors=True)
    switch_dir.mkdir(parents=True, mode=0o755)  # root-owned: HTCondor does not create it
    the_pool = Pool(root, render_site(site))
    try:
        the_pool.start_central_and_submit()
        for bind in the_class(site, False).binds:
            root.host(bind.source).mkdir(parents=True, exist_ok=True)
        yield the_pool
    finally:
        root.kill_all()
        shutil.rmtree(switch_dir, ignore_errors=True)


def stays_idle(pool: Pool, cluster: int) -> str:
    time.sleep(IDLE_WAIT_S)
    assert pool.job_status(cluster) == "idle"
    analysis = better_analyze(pool, cluster)
    assert re.search(r"1 slots reject your job because of their own requirements", analysis), analysis
    return analysis


def slot_analysis(pool: Pool, cluster: int) -> str:
    """`condor_q -better-analyze -reverse`: how the slot's own requirements (its START) read the job."""
    name = pool.status("-af", "Name").splitlines()[0]
    return pool.root.run("condor_q", "-allusers", "-better-analyze", "-reverse", "-machine", name, str(cluster),
                         env=pool.env("submit"), check=False).stdout


def refused_by(analysis: str, condition: str) -> bool:
    """Does the slot analysis list `condition` as matched by no job (0 of them, or never)?"""
    found = re.search(rf"^\[\d+\]\s+(0|never)\s+{re.escape(condition)}$", analysis, re.M) is not None
    assert found, analysis
    return found


def set_switch(pool: Pool, value: bool, user: str | None = None) -> Any:
    """The admin's command, as root on the node (the exec instance's own config): set, then reconfig."""
    proc = pool.root.run("condor_config_val", "-startd", "-set", f"{SWITCH} = {value}", env=pool.env("exec"), user=user, check=False)
    if proc.returncode == 0:
        pool.root.run("condor_reconfig", "-startd", env=pool.env("exec"))
    return proc


def test_a_cpu_only_job_never_starts_on_an_only_gpu_jobs_class_but_runs_elsewhere(pool: Pool, site: Site) -> None:
    gpu = the_class(site, True)
    pool.start_execute(gpu.role)
    cluster = submit_ok(pool, description(site, gpu.images[0]))
    stays_idle(pool, cluster)
    # The class's reason, as better-analyze shows the slot's START: no job matches the GPU condition.
    assert refused_by(slot_analysis(pool, cluster), "TARGET.RequestGPUs > 0")

    plain = the_class(site, False)
    pool.start_execute(plain.role)
    cluster = submit_ok(pool, description(site, plain.images[0]))
    assert wait_job(pool, cluster, {"completed", "held"}) == "completed", better_analyze(pool, cluster)
    mounts = job_mounts(pool, cluster)  # inside the job's container: the site's binds and the class's
    assert {b.target or b.source for b in (*site.binds, *plain.binds)} <= set(mounts), sorted(mounts)


def test_the_class_start_clause_and_attributes_on_the_real_startd(pool: Pool, site: Site) -> None:
    plain = the_class(site, False)
    if pool.execute_role != plain.role:
        pool.start_execute(plain.role)
    listing = pool.status("-l")
    for name, value in ATTRIBUTES.items():
        shown = f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
        assert re.search(rf"^{name} = {re.escape(shown)}$", listing, re.M), (name, shown)
    refused = submit_ok(pool, description(site, plain.images[0], extra=f'+{JOB_ATTR} = "{WORD}"\n'))
    stays_idle(pool, refused)
    assert refused_by(slot_analysis(pool, refused), f'TARGET.{JOB_ATTR} isnt "{WORD}"')
    other = submit_ok(pool, description(site, plain.images[0], extra=f'+{JOB_ATTR} = "production"\n'))
    assert wait_job(pool, other, {"completed", "held"}) == "completed", better_analyze(pool, other)
    assert pool.job_status(refused) == "idle"
    pool.remove_all_jobs()


def test_the_admin_switch_stops_new_starts_without_a_render_and_starts_them_again(pool: Pool, site: Site) -> None:
    plain = the_class(site, False)
    if pool.execute_role != plain.role:
        pool.start_execute(plain.role)
    config_before = {p.name: p.read_bytes() for p in pool.root.host(f"{BASE}/exec/config.d").iterdir() if p.is_file()}

    proc = set_switch(pool, False, user=SUBMITTER)  # an ordinary user on the node: refused
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert re.search(rf"PERMISSION DENIED to {SUBMITTER}@\S+ .*for remote config {SWITCH.lower()}, access level ADMINISTRATOR",
                     pool.root.host(START_LOG).read_text(), re.I)
    proc = pool.root.run("condor_config_val", "-startd", "-set", "START = True", env=pool.env("exec"), check=False)
    assert proc.returncode != 0  # root may set the switch and nothing else
    proc = pool.root.run("condor_config_val", "-startd", "-rset", f"{SWITCH} = False", env=pool.env("exec"), check=False)
    assert proc.returncode != 0  # runtime configuration stays off

    proc = set_switch(pool, False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wait_for("the slot to publish the switch off", lambda: pool.slot_attr(SWITCH) == "false", timeout=30)
    cluster = submit_ok(pool, description(site, plain.images[0]))
    stays_idle(pool, cluster)
    assert refused_by(slot_analysis(pool, cluster), f"MY.{SWITCH} isnt false")
    proc = set_switch(pool, True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert wait_job(pool, cluster, {"completed", "held"}) == "completed", better_analyze(pool, cluster)
    # Without a render: the role's files are as confgen wrote them; the setting lives in the switch's directory.
    assert config_before == {p.name: p.read_bytes() for p in pool.root.host(f"{BASE}/exec/config.d").iterdir() if p.is_file()}
    assert any(p.name.startswith(".config") for p in pool.root.host(SWITCH_DIR).iterdir())


def test_the_admin_switch_survives_a_startd_restart(pool: Pool, site: Site) -> None:
    """The setting lives in the startd's persistent configuration: a restarted startd (new DaemonStartTime)
    still publishes the switch off, until root sets it back."""
    plain = the_class(site, False)
    if pool.execute_role != plain.role:
        pool.start_execute(plain.role)
    assert set_switch(pool, False).returncode == 0
    wait_for("the slot to publish the switch off", lambda: pool.slot_attr(SWITCH) == "false", timeout=30)
    before = pool.slot_attr("DaemonStartTime")
    pool.root.run("condor_restart", "-startd", env=pool.env("exec"))
    wait_for("a restarted startd", lambda: pool.slot_attr("DaemonStartTime") not in ("", before), timeout=60)
    assert pool.slot_attr(SWITCH) == "false"
    assert set_switch(pool, True).returncode == 0
    wait_for("the slot to publish the switch on", lambda: pool.slot_attr(SWITCH) == "true", timeout=30)
