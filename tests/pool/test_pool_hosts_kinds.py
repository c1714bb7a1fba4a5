"""A host kind on real daemons: a central manager that is also an access point, run as ONE HTCondor
instance (one condor_master starting COLLECTOR, NEGOTIATOR and SCHEDD from output/<kind>/), plus an
execute instance of one class (pool.py; test-only overrides: pool.kind_overrides and COMMON).

Real: HTCondor 25 daemons and tools, Apptainer for the job. The host kind is added to the shipped site
here (site.yaml ships none); every expectation comes from the Site model (authorization(), daemons()).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from confgen.render import Fragment, render_site
from confgen.render.authorization import authorization
from confgen.render.hosts import union_daemons
from confgen.site.hosts import HostKind
from confgen.site.model import Site
from tests.conftest import site_from_text
from tests.pool.chroot import SUBMITTER, Root, wait_for
from tests.pool.conftest import SITE_PATH
from tests.pool.pool import BASE, Pool, wait_job
from tests.pool.test_loopback_pool import description, job_output, submit_ok

KIND = "cm-and-ap"
INST = "cmap"
SETTLE_S = 6  # a few update intervals (2 s in the test pool)


@pytest.fixture(scope="module")
def kind_site() -> Site:
    text = SITE_PATH.read_text(encoding="utf-8") + f"\nhosts:\n  {KIND}: [central-manager, submit]\n"
    return site_from_text(text)


@pytest.fixture(scope="module")
def kind(kind_site: Site) -> HostKind:
    return next(k for k in kind_site.hosts if k.name == KIND)


@pytest.fixture(scope="module")
def fragments(kind_site: Site) -> list[Fragment]:
    return render_site(kind_site)


@pytest.fixture(scope="module")
def pool(root: Root, kind_site: Site, kind: HostKind, fragments: list[Fragment]) -> Iterator[Pool]:
    root.kill_all()
    the_pool = Pool(root, fragments)
    try:
        the_pool.start_kind(INST, kind.name, kind.roles)
        role = next((c.role for c in kind_site.node_classes if c.interactive != "only"), kind_site.node_classes[0].role)
        the_pool.start_execute(role)
        yield the_pool
    finally:
        root.kill_all()


def daemons_of(pool: Pool, inst: str) -> list[str]:
    """The names of the processes of the instance `inst` (those whose CONDOR_CONFIG is its root config)."""
    names = []
    marker = f"CONDOR_CONFIG={BASE}/{inst}/condor_config".encode()
    for pid in pool.root.processes():
        try:
            if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                names.append(Path(f"/proc/{pid}/comm").read_text().strip())
        except OSError:
            continue
    return names


def test_one_master_runs_the_collector_negotiator_and_schedd(pool: Pool, kind_site: Site, kind: HostKind) -> None:
    running = daemons_of(pool, INST)
    assert running.count("condor_master") == 1, running
    tested = [d for d in union_daemons(kind_site, kind) if d not in ("HAD", "REPLICATION")]  # one host: no HA (pool.py)
    for daemon in tested:
        assert f"condor_{daemon.lower()}"[:15] in running, (daemon, running)  # /proc/PID/comm keeps 15 characters
    assert daemons_of(pool, "cm") == [] and daemons_of(pool, "submit") == []


def test_a_user_job_submitted_to_the_kinds_schedd_runs(pool: Pool, kind_site: Site) -> None:
    cluster = submit_ok(pool, description(kind_site, kind_site.default_os))
    wait_job(pool, cluster, {"completed"}, timeout=120)
    assert job_output(pool, cluster)["CONFGEN_IMAGE"] == kind_site.images[kind_site.default_os]


def test_the_collector_refuses_a_users_fake_startd_while_the_schedd_takes_the_users_job(pool: Pool, kind_site: Site) -> None:
    name = "fake-machine@forged.example"
    pool.root.write("/tmp/fake.ad", f'MyType = "Machine"\nName = "{name}"\nMachine = "forged.example"\n'
                                    'MyAddress = "<127.0.0.1:1>"\nRequirements = true\nStart = true\n')
    proc = pool.root.run("condor_advertise", "UPDATE_STARTD_AD", "/tmp/fake.ad", env=pool.env(INST), user=SUBMITTER, check=False)
    assert proc.returncode != 0 and "Sent 0 of 1" in proc.stdout, proc.stdout + proc.stderr
    cluster = submit_ok(pool, description(kind_site, hold=True))  # the same user, the same host: WRITE on the schedd
    assert pool.job_status(cluster) == "held"
    time.sleep(SETTLE_S)
    assert name not in pool.status("-any", "-af", "Name")

    # Positive control: the daemon identity may advertise, so the refusal above is the user's identity.
    proc = pool.root.run("condor_advertise", "UPDATE_STARTD_AD", "/tmp/fake.ad", env=pool.env(INST), user="condor", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wait_for("the daemon's ad in the collector", lambda: name in pool.status("-any", "-af", "Name"), timeout=30)
    pool.root.run("condor_advertise", "INVALIDATE_STARTD_ADS", "/dev/stdin", env=pool.env(INST), user="condor", check=False,
                  input=f'MyType = "Query"\nTargetType = "Machine"\nRequirements = Name == "{name}"\n')
    pool.root.run("condor_rm", str(cluster), env=pool.env(INST), user=SUBMITTER, check=False)


def write_lists(site: Site) -> dict[str, str]:
    users = ", ".join(dict(authorization(site, "submit"))["WRITE"])
    daemon = ", ".join(dict(authorization(site, "central-manager"))["WRITE"])
    return {"SCHEDD": users, "COLLECTOR": daemon, "NEGOTIATOR": daemon, "MASTER": daemon}


@pytest.mark.parametrize("subsys", ["SCHEDD", "COLLECTOR", "NEGOTIATOR", "MASTER"])
def test_config_val_as_each_daemon_shows_its_own_allow_write(pool: Pool, kind_site: Site, subsys: str) -> None:
    expected = write_lists(kind_site)[subsys]
    proc = pool.root.run("condor_config_val", "-subsystem", subsys, "-v", "ALLOW_WRITE", env=pool.env(INST), check=False)
    print(proc.stdout)  # `-v` names the knob it used (SCHEDD.ALLOW_WRITE or ALLOW_WRITE) and the file and line
    knob, _, value = proc.stdout.splitlines()[0].partition(" = ")
    assert value.strip() == expected, proc.stdout + proc.stderr
    own = "SCHEDD.ALLOW_WRITE" if subsys == "SCHEDD" else "ALLOW_WRITE"
    assert knob == own, proc.stdout
    dump = pool.root.run("condor_config_val", "-subsystem", subsys, "-dump", "ALLOW_WRITE", env=pool.env(INST), check=False).stdout
    print(dump)
    assert f"{own} = {expected}" in dump.splitlines(), dump
    if subsys in ("SCHEDD", "COLLECTOR"):  # the running daemon itself, asked over the network
        live = pool.root.run("condor_config_val", f"-{subsys.lower()}", "ALLOW_WRITE", env=pool.env(INST), check=False)
        print(f"live {subsys}:", live.stdout, live.stderr)
        assert live.stdout.strip() == expected, live.stdout + live.stderr
