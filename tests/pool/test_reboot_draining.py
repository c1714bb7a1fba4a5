"""Reboot draining on real HTCondor daemons: the central manager's condor_defrag (one per class, as
rendered) drains the nodes whose reboot is due, never more at once than the class's cap; a draining node
backfills a job that ends before the drain does and refuses a longer one; the drained node is announced
(SiteRebootDrained); while it is down for its reboot the collector keeps it as an absent ad
(`condor_status -absent`) that still counts against the cap, so no other node drains meanwhile; after
its "reboot" it takes jobs again.

Three execute nodes of one class are three startds with names of their own in the pool's machine
(`Pool.start_execute(role, name=...)`). The reboot check is a STAND-IN (it reports what the test wrote
for its node); the "reboot" is a graceful shutdown of the node's master and a fresh start with the check
reporting no reboot due. Everything else is the rendered configuration on real daemons; the test-only
overrides are listed in OVERRIDES. The site shares no name with the example."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator

import pytest

from confgen.render import render_site
from confgen.render.runtime import GRACE_S
from confgen.site.model import Site
from confgen.site.reboots import drain_caps
from tests import unambiguous_yaml
from tests.conftest import site_from_text
from tests.pool.chroot import SUBMITTER, Root, wait_for
from tests.pool.pool import Pool, wait_job
from tests.pool.test_loopback_pool import better_analyze, description, submit_ok

SITE = {
    "site": {"name": "RBT", "uid_domain": "farm.example", "central_managers": ["boss.farm.example"]},
    "security": {"methods": ["FS"]},
    "containers": {"job_attribute": "NeedsOS", "default": "Tux1", "images": {"Tux1": "/images/tux1"}},
    "job_attributes": {"WallSeconds": {"type": "integer", "min": 1, "max": 3600, "default": 60, "runtime": "seconds"}},
    "reboots": {"check": "/usr/local/sbin/reboot-pending", "spread_days": 0, "max_draining": {"default": "40%"}},
    "node_classes": {"rack": {"interactive": "allowed", "nodes": 3}},
}
NODES = ("na", "nb", "nc")
DUE_DIR = "/etc/confgen-test/reboot-due"
REBOOT_STANDIN = f"""#!/bin/sh
# STAND-IN reboot check: a reboot is due on node $1 while {DUE_DIR}/$1 exists (the test writes it; the
# test's "reboot" removes it).
if [ -e "{DUE_DIR}/$1" ]; then
    echo "RebootNeeded = True"
    echo 'RebootReason = "stand-in: a new kernel is installed"'
else
    echo "RebootNeeded = False"
fi
"""
#: THE test-only overrides, all of them (beyond pool.py's loopback/speed ones).
OVERRIDES = {
    # defrag cycles every 2 s instead of 600 s, still exactly one new drain per cycle (3600 / 2)
    "central-manager": "DEFRAG_INTERVAL = 2\nDEFRAG_DRAINING_MACHINES_PER_HOUR = 1800\nDEFRAG_UPDATE_INTERVAL = 5\n",
    # the reboot check every 2 s instead of the site's period; 2 CPUs per node (one job from before the
    # drain, one backfilled); the stand-in check is told which node it runs on
    "execute": "STARTD_CRON_REBOOT_PERIOD = 2s\nNUM_CPUS = 2\n",
}
ORIGINAL_S, ORIGINAL_LIMIT = 40, 300  # the jobs running when the drain begins: sleep, and their WallSeconds
WAITING_S = 8  # a drained node left waiting for its reboot for four defrag cycles
DOWN_S = 8  # a node down for its reboot for four defrag cycles
MARGIN_S = 30  # backfill candidates end this much before / after the drain is expected to end


@pytest.fixture(scope="module")
def site() -> Site:
    return site_from_text(unambiguous_yaml.dump(SITE, sort_keys=False))


def reboot_pool(root: Root, site: Site, nodes: tuple[str, ...]) -> Iterator[Pool]:
    """The rendered pool with OVERRIDES, the stand-in reboot check (no reboot due yet), and one startd
    per name in `nodes`, all of the site's first class."""
    root.kill_all()
    the_pool = Pool(root, render_site(site))
    the_pool.overrides = dict(OVERRIDES)
    try:
        the_pool.start_central_and_submit()
        root.write(site.reboots["check"] if site.reboots else "", REBOOT_STANDIN, 0o755)
        shutil.rmtree(root.host(DUE_DIR), ignore_errors=True)  # no reboot is due until the test says so
        root.host(DUE_DIR).mkdir(parents=True)
        for node in nodes:
            start_node(the_pool, site, node)
        yield the_pool
    finally:
        root.kill_all()


@pytest.fixture(scope="module")
def pool(root: Root, site: Site) -> Iterator[Pool]:
    yield from reboot_pool(root, site, NODES)


def start_node(pool: Pool, site: Site, node: str) -> None:
    pool.start_execute(site.node_classes[0].role, name=node, extra=f"STARTD_CRON_REBOOT_ARGS = {node}\n")


def slot_of(node: str) -> str:
    return f'regexp("@{node}@", Name)'


def pinned(site: Site, node: str, limit: int, sleep: int) -> str:
    return description(site, extra=f"+WallSeconds = {limit}\nrequirements = {slot_of(node)}\n", command=f"sleep {sleep}")


class Watch:
    """Polls condor_status every 0.5 s: the timeline of each node's state, and the most nodes taken at once."""

    def __init__(self, pool: Pool) -> None:
        self.pool, self.t0 = pool, time.monotonic()
        self.events: list[str] = []
        self.last: dict[str, tuple[str, ...]] = {}
        self.most_draining = self.most_taken = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def note(self, text: str) -> None:
        self.events.append(f"{time.monotonic() - self.t0:6.1f} s  {text}")

    def sample(self) -> None:
        # naming Absent makes the collector return the absent ads of nodes gone for their reboot too
        out = self.pool.status("-const", "PartitionableSlot && (Absent =?= True || Absent =!= True)", "-af:t", "Name", "Draining",
                               "SiteRebootDue", "SiteRebootDrained", "State", "Activity", "RebootNeeded", "Absent")
        fields = [line.split("\t") for line in out.splitlines() if line.count("@") >= 2]
        rows = {f[0].split("@")[1]: tuple(f[1:]) + ("",) * (8 - len(f)) for f in fields}
        draining = sum(1 for r in rows.values() if r[0] == "true" and r[6] != "true")
        taken = sum(1 for r in rows.values() if r[0] == "true" or r[2] == "true" or r[6] == "true")
        self.most_draining, self.most_taken = max(self.most_draining, draining), max(self.most_taken, taken)
        for node, row in sorted(rows.items()):
            if self.last.get(node) != row:
                self.note(f"{node}: Draining={row[0]} SiteRebootDue={row[1]} SiteRebootDrained={row[2]} {row[3]}/{row[4]} "
                          f"RebootNeeded={row[5]} Absent={row[6]}  (taken: {taken})")
                self.last[node] = row

    def show(self, command: str, output: str) -> None:
        """What an admin sees at this moment (printed with the timeline)."""
        self.note(f"$ {command}\n" + "\n".join("          " + line for line in output.splitlines()))

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            time.sleep(0.5)

    def __enter__(self) -> Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        print("\nTimeline observed (condor_status every 0.5 s):\n" + "\n".join(self.events))


def node_where(pool: Pool, constraint: str) -> list[str]:
    out = pool.status("-const", f"PartitionableSlot && ({constraint})", "-af", "Name")
    return sorted(name.split("@")[1] for name in out.split())


def drain_window(pool: Pool, node: str) -> int:
    """Seconds until the node's drain is expected to end, as its startd publishes it."""
    out = pool.status("-const", slot_of(node), "-af", "ExpectedMachineGracefulDrainingCompletion").split()
    return int(out[0]) - int(time.time()) if out and out[0].isdigit() else 0


def absent(pool: Pool) -> list[str]:
    """The nodes `condor_status -absent` lists: gone, and kept by the collector."""
    out = pool.status("-absent", "-const", "PartitionableSlot", "-af", "Name")
    return sorted(name.split("@")[1] for name in out.split())


def reboot(pool: Pool, site: Site, watch: Watch, node: str) -> None:
    """The site's reboot tool, as a STAND-IN: the node goes down, stays down for DOWN_S (several defrag
    cycles: no other node of its class may start draining meanwhile), and comes back with no reboot due."""
    pool.root.host(f"{DUE_DIR}/{node}").unlink()
    watch.note(f"{node}: reboot: its master shuts down")
    pool.stop_named_execute(node)
    wait_for(f"{node} listed by condor_status -absent", lambda: absent(pool) == [node], timeout=30)
    watch.show("condor_status -absent", pool.status("-absent"))
    time.sleep(DOWN_S)
    others = node_where(pool, "Draining =?= True || SiteRebootDrained =?= True")
    assert others == [], f"{others} drained while {node} was down for its reboot"
    watch.note(f"{node} has been down {DOWN_S} s (several defrag cycles); no other node started draining")
    start_node(pool, site, node)
    watch.note(f"{node}: started again with no reboot due")
    wait_for(f"{node} back with no reboot due", lambda: node_where(pool, f"{slot_of(node)} && SiteRebootDue =?= False") == [node], timeout=60)
    assert absent(pool) == [], "the node's first ad after its reboot replaces its absent ad"


def test_nodes_due_for_a_reboot_drain_within_the_cap_backfill_short_jobs_and_come_back(pool: Pool, site: Site) -> None:
    cls = site.node_classes[0]
    cap = drain_caps(site)[cls.name].count
    assert cap == 1  # 40% of 3 nodes, rounded down
    originals = {node: submit_ok(pool, pinned(site, node, ORIGINAL_LIMIT, ORIGINAL_S)) for node in NODES}
    for cluster in originals.values():
        assert wait_job(pool, cluster, {"running", "held", "completed"}, timeout=90) == "running", better_analyze(pool, cluster)
    with Watch(pool) as watch:
        watch.note(f"jobs from before the drain run on {', '.join(NODES)} ({ORIGINAL_S} s, WallSeconds = {ORIGINAL_LIMIT})")
        for node in NODES:
            pool.root.write(f"{DUE_DIR}/{node}", "due\n")
        watch.note(f"the reboot check reports a reboot due on {', '.join(NODES)}")
        first = wait_for("a node to be drained", lambda: node_where(pool, "Draining =?= True"), timeout=60)[0]
        # the startd's first ad after the drain began may still carry the estimate from before it (vacate
        # time only): wait for the one that counts the running job's retirement
        window = wait_for("the drain's expected end", lambda: (w := drain_window(pool, first)) > GRACE_S + 2 * MARGIN_S and w, timeout=30)
        # The backfill decision, in the runtime attribute's unit (seconds): a job whose limit plus the grace
        # ends MARGIN_S before the drain is expected to, and one that ends MARGIN_S after it
        short_limit, long_limit = window - GRACE_S - MARGIN_S, window - GRACE_S + MARGIN_S
        assert short_limit >= 1, window
        short = submit_ok(pool, pinned(site, first, short_limit, 2))
        long = submit_ok(pool, pinned(site, first, long_limit, 2))
        watch.note(f"{first} is draining, expected to end in {window} s; submitted to it: job {short} (WallSeconds = {short_limit}) "
                   f"and job {long} (WallSeconds = {long_limit})")
        watch.show("condor_status", pool.status())
        watch.show("condor_status -const Draining -af Name DrainReason ExpectedMachineGracefulDrainingCompletion",
                   pool.status("-const", "Draining", "-af", "Name", "DrainReason", "ExpectedMachineGracefulDrainingCompletion"))
        watch.show("condor_status -defrag", pool.status("-defrag"))
        assert wait_job(pool, short, {"completed", "held"}, timeout=60) == "completed", better_analyze(pool, short)
        assert first in node_where(pool, "Draining =?= True"), "the short job ran, but the node was no longer draining"
        watch.note(f"job {short} ran on the draining {first} and completed; job {long} is {pool.job_status(long)}")
        assert pool.job_status(long) == "idle", better_analyze(pool, long)
        rejected = pool.q(str(long), "-af", "LastRejMatchTime").strip()
        assert rejected.isdigit(), better_analyze(pool, long)  # the negotiator considered it and found no slot
        pool.root.run("condor_rm", str(long), env=pool.env("submit"), user=SUBMITTER, check=False)
        # the job from before the drain ends; the node is drained and says so
        wait_for(f"{first} announced as drained", lambda: node_where(pool, "SiteRebootDrained =?= True") == [first], timeout=ORIGINAL_S + 60)
        watch.note(f"{first} is drained: condor_status -const 'SiteRebootDrained' lists it")
        watch.show("condor_status -const SiteRebootDrained -af Name RebootReason LastDrainStopTime",
                   pool.status("-const", "SiteRebootDrained", "-af", "Name", "RebootReason", "LastDrainStopTime"))
        assert wait_job(pool, originals[first], {"completed", "held"}, timeout=30) == "completed"  # it ran to its end
        # while it waits for its reboot it still counts against the cap: no other node drains
        time.sleep(WAITING_S)
        assert node_where(pool, "Draining =?= True || SiteRebootDrained =?= True") == [first]
        watch.note(f"{WAITING_S} s later (several defrag cycles) no other node has been drained")
        log = pool.root.host(f"/var/lib/confgen-test/pool/cm/local/log/DefragLog.{cls.name}").read_text()
        assert f"Doing nothing, because DEFRAG_MAX_WHOLE_MACHINES={cap} and there are {cap} whole machines" in log, log[-2000:]
        assert f"Doing nothing, because DEFRAG_MAX_CONCURRENT_DRAINING={cap} and there are {cap} draining machines" in log, log[-2000:]
        rebooted = []
        node = first
        while True:
            reboot(pool, site, watch, node)
            rebooted.append(node)
            if len(rebooted) == len(NODES):
                break
            node = wait_for("the next node to be drained", lambda: node_where(pool, "SiteRebootDrained =?= True"), timeout=60)[0]
            watch.note(f"{node} is drained")
        back = submit_ok(pool, pinned(site, first, 10, 1))
        assert wait_job(pool, back, {"completed", "held"}, timeout=60) == "completed", better_analyze(pool, back)
        watch.note(f"job {back} ran on {first} after its reboot")
    assert sorted(rebooted) == sorted(NODES)
    assert watch.most_draining <= cap and watch.most_taken <= cap, (watch.most_draining, watch.most_taken)
