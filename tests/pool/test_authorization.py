"""Authorization on real daemons: an ordinary user of the UID domain cannot steer the pool.

The loopback pool runs the rendered roles of the shipped site (FS authentication, see pool.py): the
user `confgen-user` is confgen-user@<uid_domain>, the daemons are condor@<uid_domain>. Each attack is
made as the user and refused; where the same command as the daemon account succeeds, that positive
control shows the refusal comes from the identity, not from a broken command.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from confgen.render import render_site
from confgen.site.model import Site
from tests.pool.chroot import SUBMITTER, Root, wait_for
from tests.pool.pool import Pool, cluster_of, wait_job

SETTLE_S = 6  # a few update intervals (2 s in the test pool)


@pytest.fixture(scope="module")
def pool(root: Root, site: Site) -> Iterator[Pool]:
    root.kill_all()
    the_pool = Pool(root, render_site(site))
    try:
        the_pool.start_central_and_submit()
        # A class offering fewer OSes than the site: rewriting its offer is what the review showed.
        role = next((c.role for c in site.node_classes if set(c.images) != set(site.images)), site.node_classes[0].role)
        the_pool.start_execute(role)
        yield the_pool
    finally:
        root.kill_all()


def offered(pool: Pool) -> str:
    return pool.status("-af", "SiteOfferedOS")


def test_a_user_cannot_rewrite_the_slot_ad_but_the_daemon_identity_can(pool: Pool, site: Site) -> None:
    before = offered(pool)
    stranger = sorted(set(site.images) - set(before.replace('"', " ").replace(",", " ").split()) or set(site.images))[0]
    pool.root.write("/tmp/update.ad", f'SiteOfferedOS = "{stranger}"\n')
    proc = pool.root.run("condor_update_machine_ad", "/tmp/update.ad", env=pool.env("exec"), user=SUBMITTER, check=False)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "DENIED" in proc.stderr and f"{SUBMITTER}@{site.uid_domain}" in proc.stderr, proc.stderr
    time.sleep(SETTLE_S)
    assert offered(pool) == before

    # Positive control: the same update as the daemon account goes through, so the refusal above is
    # the identity's, and the offer an ordinary user could have forged is what a job would match.
    proc = pool.root.run("condor_update_machine_ad", "/tmp/update.ad", env=pool.env("exec"), user="condor", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wait_for("the daemon's update in the slot ad", lambda: offered(pool) == stranger, timeout=30)
    pool.start_execute(pool.execute_role or "")  # a fresh startd for the tests that follow


@pytest.mark.parametrize("command", ["UPDATE_STARTD_AD", "UPDATE_SCHEDD_AD"])
def test_a_user_cannot_advertise_a_fake_daemon_to_the_collector(pool: Pool, site: Site, command: str) -> None:
    kind = "Machine" if command == "UPDATE_STARTD_AD" else "Scheduler"
    name = f"fake-{kind.lower()}@forged.example"
    ad = f'MyType = "{kind}"\nName = "{name}"\nMachine = "forged.example"\nMyAddress = "<127.0.0.1:1>"\nRequirements = true\nStart = true\n'
    pool.root.write("/tmp/fake.ad", ad)
    listing = ("-any", "-af", "Name")
    proc = pool.root.run("condor_advertise", command, "/tmp/fake.ad", env=pool.env("cm"), user=SUBMITTER, check=False)
    assert proc.returncode != 0 and "Sent 0 of 1" in proc.stdout, proc.stdout + proc.stderr
    time.sleep(SETTLE_S)
    assert name not in pool.status(*listing)

    proc = pool.root.run("condor_advertise", command, "/tmp/fake.ad", env=pool.env("cm"), user="condor", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # positive control: the daemon identity may
    wait_for("the daemon's ad in the collector", lambda: name in pool.status(*listing), timeout=30)
    invalidate = command.replace("UPDATE_", "INVALIDATE_").replace("_AD", "_ADS")
    pool.root.run("condor_advertise", invalidate, "/dev/stdin", env=pool.env("cm"), user="condor",
                  input=f'MyType = "Query"\nTargetType = "{kind}"\nRequirements = Name == "{name}"\n', check=False)


@pytest.mark.parametrize("verb", ["-set", "-rset"])
@pytest.mark.parametrize("user", [SUBMITTER, None], ids=["user", "root"])
@pytest.mark.parametrize("daemon", ["-startd", "-schedd", "-collector", "-master"])
def test_nobody_changes_a_daemons_configuration_over_the_network(pool: Pool, verb: str, user: str | None, daemon: str) -> None:
    inst = {"-startd": "exec", "-schedd": "submit", "-collector": "cm", "-master": "exec"}[daemon]
    env = pool.env(inst)
    proc = pool.root.run("condor_config_val", daemon, verb, "CONFGEN_PROBE = forged", env=env, user=user, check=False)
    assert proc.returncode != 0 and "failed" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    pool.root.run("condor_reconfig", daemon, env=env, check=False)
    time.sleep(1)
    got = pool.root.run("condor_config_val", daemon, "CONFGEN_PROBE", env=env, check=False)
    assert "forged" not in got.stdout, got.stdout


def test_an_ordinary_user_cannot_flip_the_admin_switch(pool: Pool, site: Site) -> None:
    """The one knob the startd persists is settable at ADMINISTRATOR only: the user is refused by the
    authorization (the startd says so), not by a missing directory. Root's positive control is in
    tests/pool/test_class_policy.py, with a switch directory that exists."""
    env = pool.env("exec")
    proc = pool.root.run("condor_config_val", "-startd", "-set", f"{site.switch_attribute} = False", env=env, user=SUBMITTER, check=False)
    assert proc.returncode != 0 and "failed" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    log = pool.root.host("/var/lib/confgen-test/pool/exec/local/log/StartLog").read_text()
    assert re.search(rf"PERMISSION DENIED to {SUBMITTER}@\S+ .*for remote config {site.switch_attribute.lower()}, access level ADMINISTRATOR", log, re.I)
    published = pool.status("-constraint", "SiteNodeClass =!= undefined", "-af", site.switch_attribute).split()
    assert published and set(published) == {"true"}, published  # the real slot still starts jobs


def test_the_pool_still_runs_jobs_and_ssh_to_job(pool: Pool, site: Site) -> None:
    lines = [
        f"initialdir = /home/{SUBMITTER}", "executable = /bin/sleep", "arguments = 120", "transfer_executable = false",
        "should_transfer_files = YES", "request_memory = 64", "log = auth.log", "queue",
    ]
    proc = pool.submit("\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cluster = cluster_of(proc.stdout)
    wait_job(pool, cluster, {"running"})
    # The starter's address reaches the schedd a few seconds after the job starts running.
    def entered() -> bool:
        run = pool.root.run("condor_ssh_to_job", f"{cluster}.0", "echo", "inside-$_CONDOR_SLOT", env=pool.env("submit"), user=SUBMITTER, check=False, timeout=60)
        return bool(re.search(r"inside-\S+", run.stdout))
    wait_for("condor_ssh_to_job to enter the job", entered, timeout=60, interval=2)
    pool.remove_all_jobs()
