"""The shipped site on a real HTCondor pool: central manager, submit and one execute class at a time,
on 127.0.0.1 in the test machine, each daemon reading its rendered role directory (see pool.py for the
test-only overrides). Jobs run in real Apptainer containers: each image is marked with its path, and
the job reports the marker, its mounts and its environment. The health script and reboot check are
STAND-INs.

Every expectation is taken from site.yaml (the model), not from the example's names.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from confgen.render import render_site
from confgen.site.model import Site
from tests.pool.chroot import SUBMITTER, Root, wait_for
from tests.pool.pool import PROBE, Pool, cluster_of, wait_job

IDLE_WAIT_S = 12  # several negotiation cycles (2 s each in the test pool)


@pytest.fixture(scope="module")
def pool(root: Root, site: Site) -> Iterator[Pool]:
    root.kill_all()
    the_pool = Pool(root, render_site(site))
    try:
        the_pool.start_central_and_submit()
        yield the_pool
    finally:
        root.kill_all()  # the whole pool goes down, also when a test failed


def description(site: Site, os_name: str | None = None, *, cpus: int = 1, interactive: bool = False, extra: str = "", hold: bool = False, user: str = SUBMITTER, command: str | None = None) -> str:
    """A job of `user`: the probe (pool.py), or `command` run by the image's /bin/sh."""
    run = [f"executable = {PROBE}"] if command is None else ["executable = /bin/sh", "transfer_executable = false", f"arguments = \"-c '{command}'\""]
    lines = [
        f"initialdir = /home/{user}",
        *run,
        "output = out.$(Cluster)",
        "error = err.$(Cluster)",
        "log = log.$(Cluster)",
        f"request_cpus = {cpus}",
        "request_memory = 64",
        "should_transfer_files = YES",
    ]
    if os_name is not None:
        lines.append(f'+{site.job_attribute} = "{os_name}"')
    if interactive:
        lines.append("+InteractiveJob = True")  # what condor_submit -interactive puts in the job ad
    if hold:
        lines.append("hold = True")
    return "\n".join(lines) + "\n" + extra + "queue\n"


def submit_ok(pool: Pool, text: str, user: str = SUBMITTER) -> int:
    proc = pool.submit(text, user)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cluster_of(proc.stdout)


def job_output(pool: Pool, cluster: int) -> dict[str, str]:
    """What the job's probe printed: its environment, CONFGEN_IMAGE (the image's marker), CONFGEN_PWD."""
    text = pool.root.host(f"/home/{SUBMITTER}/out.{cluster}").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("CONFGEN_MOUNT="))


def job_mounts(pool: Pool, cluster: int) -> dict[str, set[str]]:
    """Mount point -> its options, as the job saw them inside its container."""
    text = pool.root.host(f"/home/{SUBMITTER}/out.{cluster}").read_text()
    mounts: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith("CONFGEN_MOUNT="):
            point, options = line.split("=", 1)[1].split(" ", 1)
            mounts.setdefault(point, set()).update(options.split(","))
    return mounts


def better_analyze(pool: Pool, cluster: int) -> str:
    return pool.root.run("condor_q", "-allusers", "-better-analyze", str(cluster), env=pool.env("submit"), check=False).stdout


def stays_idle(pool: Pool, cluster: int) -> str:
    time.sleep(IDLE_WAIT_S)
    assert pool.job_status(cluster) == "idle"
    analysis = better_analyze(pool, cluster)
    assert re.search(r"1 slots reject your job because of their own requirements", analysis), analysis
    return analysis


def class_where(site: Site, pred) -> str:  # type: ignore[no-untyped-def]
    for cls in site.node_classes:
        if pred(cls):
            return cls.role
    pytest.fail("the shipped site has no such class")


def test_a_job_runs_in_the_image_of_its_os_with_the_sites_binds_and_thread_variables(pool: Pool, site: Site) -> None:
    role = class_where(site, lambda c: c.interactive != "only" and len(c.images) > 1)
    pool.start_execute(role)
    cls = next(c for c in site.node_classes if c.role == role)
    os_name = next(o for o in cls.images if o != site.default_os)
    cluster = submit_ok(pool, description(site, os_name, cpus=2))
    assert wait_job(pool, cluster, {"completed", "held"}) == "completed", better_analyze(pool, cluster)
    env = job_output(pool, cluster)
    assert env["CONFGEN_IMAGE"] == site.images[os_name]  # the starter chose the image of the OS the job named
    if site.target_dir:  # the job's scratch directory is mounted under the site's target dir, and the job starts there
        assert env["CONFGEN_PWD"] == env["_CONDOR_SCRATCH_DIR"] and env["CONFGEN_PWD"].startswith(site.target_dir.rstrip("/") + "/"), env["CONFGEN_PWD"]
    mounts = job_mounts(pool, cluster)
    for bind in site.binds:  # every bind of the site, at its target, read-only where the site says so
        target = bind.target or bind.source
        assert target in mounts, (bind, sorted(mounts))
        assert ("ro" in mounts[target]) == bind.read_only, (bind, mounts[target])
    for var in ("OMP_NUM_THREADS", *site.threads_env):
        assert env.get(var) == "2", (var, env.get(var))  # equal to the job's CPU request

    cluster = submit_ok(pool, description(site, None))
    assert wait_job(pool, cluster, {"completed", "held"}) == "completed", better_analyze(pool, cluster)
    assert job_output(pool, cluster)["CONFGEN_IMAGE"] == site.images[site.default_os]  # no OS named: the default


def test_submit_refuses_unknown_os_blocked_user_and_out_of_range_with_the_sites_reasons(pool: Pool, root: Root, site: Site) -> None:
    unknown = "NoSuchOS9"
    proc = pool.submit(description(site, unknown))
    assert proc.returncode != 0 and "submitted to cluster" not in proc.stdout
    assert f'{site.job_attribute} = "{unknown}" is not an OS of this pool' in proc.stdout + proc.stderr, proc.stdout + proc.stderr

    if site.blocked_users:
        user = site.blocked_users[0]
        if root.run("id", user, check=False).returncode != 0:
            root.run("useradd", "--create-home", user)
        proc = pool.submit(description(site, site.default_os, user=user), user)
        assert proc.returncode != 0 and "security.blocked_users" in proc.stdout + proc.stderr, proc.stdout + proc.stderr

    ranged = next(a for a in site.job_attributes if a.type == "integer")
    assert ranged.max is not None and ranged.min is not None
    proc = pool.submit(description(site, site.default_os, extra=f"+{ranged.name} = {ranged.max + 1}\n"))
    assert proc.returncode != 0 and f"{ranged.name} must be an integer from {ranged.min} to {ranged.max}; this job has {ranged.max + 1}" in proc.stdout + proc.stderr, proc.stdout + proc.stderr

    cluster = submit_ok(pool, description(site, site.default_os, hold=True))
    for attr in site.job_attributes:
        got = pool.root.run("condor_q", "-allusers", str(cluster), "-af", attr.name, env=pool.env("submit")).stdout.strip()
        assert got == str(attr.default), (attr.name, got)  # the schedd's transform set the default
    pool.root.run("condor_rm", str(cluster), env=pool.env("submit"), user=SUBMITTER)


def test_interactive_only_class_holds_batch_jobs_idle_and_starts_interactive_ones(pool: Pool, site: Site) -> None:
    role = class_where(site, lambda c: c.interactive == "only")
    pool.start_execute(role)
    os_name = next(c for c in site.node_classes if c.role == role).images[0]
    batch = submit_ok(pool, description(site, os_name))
    stays_idle(pool, batch)
    interactive = submit_ok(pool, description(site, os_name, interactive=True))
    assert wait_job(pool, interactive, {"completed", "held"}) == "completed", better_analyze(pool, interactive)
    assert pool.job_status(batch) == "idle"
    pool.remove_all_jobs()


def test_a_class_that_does_not_offer_an_os_never_starts_its_jobs(pool: Pool, site: Site) -> None:
    role = class_where(site, lambda c: c.interactive != "only" and set(c.images) != set(site.images))
    pool.start_execute(role)
    cls = next(c for c in site.node_classes if c.role == role)
    missing = sorted(set(site.images) - set(cls.images))[0]
    stranger = submit_ok(pool, description(site, missing))
    stays_idle(pool, stranger)
    offered = submit_ok(pool, description(site, cls.images[0]))
    assert wait_job(pool, offered, {"completed", "held"}) == "completed", better_analyze(pool, offered)
    assert pool.job_status(stranger) == "idle"
    pool.remove_all_jobs()


def test_an_unhealthy_node_starts_nothing_until_it_reports_healthy(pool: Pool, site: Site) -> None:
    role = class_where(site, lambda c: c.interactive != "only")
    pool.start_execute(role)
    pool.set_health(False)
    try:
        wait_for("the slot to report unhealthy", lambda: pool.slot_attr("NodeIsHealthy") == "false", timeout=30)
        cluster = submit_ok(pool, description(site, site.default_os))
        stays_idle(pool, cluster)
    finally:
        pool.set_health(True)
    wait_for("the slot to report healthy", lambda: pool.slot_attr("NodeIsHealthy") == "true", timeout=30)
    assert wait_job(pool, cluster, {"completed", "held"}) == "completed", better_analyze(pool, cluster)
