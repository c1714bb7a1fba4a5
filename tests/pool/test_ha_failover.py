"""Central-manager failover on real daemons: the site's two central managers, each a machine of its own
(tests/pool/ha.py), run the rendered HAD and replication configuration unchanged; an access point and
an execute node report to both collectors. A job completes under the first negotiator; the active
central manager's machine is killed (all its processes end at once); the other central manager's HAD
starts its negotiator and a new job completes. Until the crash, at most one negotiator runs and each
collector holds at most one negotiator ad (sampled about once a second); the accountant's state the
new negotiator starts from was replicated from the dead one. The failover times are printed.

Test-only settings are in tests/pool/ha.py (OVERRIDES, PER_ROLE), each with its reason; those that
change HA timing are HAD_CONNECTION_TIMEOUT (1 s instead of the default 5 s the site renders: a HAD
step of 10 s instead of 42 s; CONFGEN_HA_RENDERED_TIMING=1 keeps the default) and REPLICATION_INTERVAL
(5 s instead of 300 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial

import pytest

from confgen.render import render_site
from confgen.site.model import Site
from tests.pool.chroot import SUBMITTER, Root, wait_for
from tests.pool.ha import HAD_CONNECTION_TIMEOUT, HAPool, Host, had_interval
from tests.pool.test_loopback_pool import class_where, description

SECOND_USER = "confgen-user2"  # the second job's owner: no claim of the first job's owner can run it


@pytest.fixture
def ha(root: Root, site: Site) -> Iterator[HAPool]:
    assert len(site.central_managers) == 2, "the shipped site.yaml should name two central managers, so HA is tested"
    root.kill_all()
    pool = HAPool(root, site, render_site(site), class_where(site, lambda c: c.interactive != "only"))
    try:
        pool.start()
        yield pool
    finally:
        pool.stop()
        root.kill_all()


class OneNegotiator:
    """Samples, while the test waits, that at most one central manager runs a negotiator and each
    collector holds at most one negotiator ad."""

    def __init__(self, ha: HAPool) -> None:
        self.ha = ha
        self.samples = 0

    def check(self) -> None:
        running = [cm.name for cm in self.ha.cms if self.ha.running(cm, "condor_negotiator")]
        assert len(running) <= 1, f"negotiators run on {running} at once"
        for cm in self.ha.cms:
            ads = self.ha.status_at(cm, "-negotiator", "-af", "Machine").split()
            assert len(ads) <= 1, f"the collector of {cm.name} holds negotiator ads of {ads}"
        self.samples += 1

    def wait(self, what: str, probe: Callable[[], object], timeout: float) -> object:
        def checked() -> object:
            self.check()
            return probe()

        return wait_for(what, checked, timeout=timeout, interval=1)


def sees_schedd_and_slot(ha: HAPool, collector: Host) -> bool:
    return bool(ha.status_at(collector, "-schedd", "-af", "Name") and ha.status_at(collector, "-af", "Name"))


def negotiator_on(ha: HAPool, collector: Host, cm: Host) -> bool:
    return cm.name in ha.status_at(collector, "-negotiator", "-af", "Machine").split()


def had_active(ha: HAPool, collector: Host) -> dict[str, str]:
    """HAD name -> HadIsActive, as one collector has them."""
    out = ha.status_at(collector, "-any", "-constraint", 'MyType == "HAD"', "-af", "Name", "HadIsActive")
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def wait_completed(ha: HAPool, cluster: int, timeout: float, watch: OneNegotiator | None = None) -> None:
    (watch.wait if watch else wait_for)(f"job {cluster} to finish", lambda: ha.job_status(cluster) in ("completed", "held"), timeout=timeout)
    assert ha.job_status(cluster) == "completed", ha.run(ha.ap, "condor_q", "-allusers", "-better-analyze", str(cluster)).stdout


def before_the_crash(ha: HAPool, site: Site, watch: OneNegotiator) -> None:
    """Both collectors see the pool; the primary's HAD starts its negotiator, a job completes under it,
    and the replication daemons copy the accountant's state to the backup."""
    primary, backup = ha.cms  # HAD_USE_PRIMARY: the first of the site's central managers leads
    step = had_interval(HAD_CONNECTION_TIMEOUT, len(ha.cms))
    for cm in ha.cms:  # the access point and the execute node report to both collectors
        watch.wait(f"the schedd and a slot in the collector of {cm.name}", partial(sees_schedd_and_slot, ha, cm), timeout=90)
    watch.wait(f"the negotiator of {primary.name}", lambda: negotiator_on(ha, backup, primary), timeout=3 * step + 30)
    assert ha.running(primary, "condor_negotiator") and not ha.running(backup, "condor_negotiator")
    active = had_active(ha, backup)
    assert active.get(f"condor@{primary.name}", "").lower() == "true" and active.get(f"condor@{backup.name}", "").lower() == "false", active

    first = ha.submit(description(site, site.default_os))
    wait_completed(ha, first, timeout=120, watch=watch)
    customer = f"Customer.{SUBMITTER}@{site.uid_domain}"  # the first job's owner, in the accountant's state
    state = ha.root.host(ha.state_file(backup))
    watch.wait(f"the replication daemons to copy the accountant's state to {backup.name}",
               lambda: state.exists() and customer in state.read_text(errors="replace"), timeout=60)
    assert watch.samples >= 5, watch.samples
    assert "CHILD_ON command for NEGOTIATOR" not in backup.log(ha.root, "MasterLog").read_text(errors="replace")


def after_the_crash(ha: HAPool, site: Site) -> dict[str, float]:
    """Kill the primary's machine; the backup's HAD starts its negotiator, which matches a new job.
    Returns the seconds from the kill to each event."""
    primary, backup = ha.cms
    step = had_interval(HAD_CONNECTION_TIMEOUT, len(ha.cms))
    killed = time.monotonic()
    primary.machine.stop()  # a crash: every process of the central manager ends at once
    second = ha.submit(description(site, site.default_os, user=SECOND_USER), SECOND_USER)
    times = {}
    wait_for(f"the negotiator of {backup.name} to start", lambda: ha.running(backup, "condor_negotiator"), timeout=3 * step + 60)
    times["negotiator started"] = time.monotonic() - killed
    wait_for(f"the negotiator ad of {backup.name}", lambda: negotiator_on(ha, backup, backup), timeout=60)
    times["negotiator advertised"] = time.monotonic() - killed
    wait_completed(ha, second, timeout=180)
    times["new job completed"] = time.monotonic() - killed

    assert "Handling CHILD_ON command for NEGOTIATOR" in backup.log(ha.root, "MasterLog").read_text(errors="replace")  # HAD told its master
    assert had_active(ha, backup).get(f"condor@{backup.name}", "").lower() == "true", had_active(ha, backup)
    log = backup.log(ha.root, "NegotiatorLog").read_text(errors="replace")
    assert f"Matched {second}.0 {SECOND_USER}@{site.uid_domain}" in log, log[-3000:]
    return times


def test_the_other_central_manager_takes_over_negotiation_after_a_crash(ha: HAPool, site: Site) -> None:
    backup = ha.cms[1]
    before_the_crash(ha, site, OneNegotiator(ha))
    times = after_the_crash(ha, site)
    # The accountant's state replicated before the crash, and the new negotiator started from it: at
    # start it rewrites its state file from what it loaded, which still holds the first job's owner,
    # whose usage only the dead negotiator recorded.
    assert f"About to rotate ClassAd log {ha.state_file(backup)}" in backup.log(ha.root, "NegotiatorLog").read_text(errors="replace")
    assert f"Customer.{SUBMITTER}@{site.uid_domain}" in ha.root.host(ha.state_file(backup)).read_text(errors="replace")
    stale = ha.status_at(backup, "-negotiator", "-af", "Machine").split()  # a crashed CM cannot withdraw its ads
    step = had_interval(HAD_CONNECTION_TIMEOUT, len(ha.cms))
    print(f"\nHA failover, HAD step {step} s: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items())
          + f" after the kill; negotiator ads in the survivor's collector: {stale}")
