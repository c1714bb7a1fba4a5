"""A pool with two highly available central managers, each a machine of its own on a bridge.

Real: four machines (tests/namespaces.py: PID, mount, hostname and network namespaces each) entered
from one HTCondor root: the site's two central managers under their own host names, an access point
and an execute node under names inside the site's pool hosts. Each runs its rendered role directory
byte for byte (HAD, replication, collector, negotiator as confgen renders them on the central
managers); jobs run in the real Apptainer (tests/pool/pool.py installs the images). Killing a central
manager's machine ends all its processes at once, as a crash does.

Stand-ins and test-only settings, all in OVERRIDES/PER_ROLE below, each with its reason. The four
machines share one root directory, so /etc/hosts is the only name service (there is no DNS in the
namespaces) and FS authentication works between them (in a real pool FS cannot cross hosts: there
the site's KERBEROS does, see tests/pool/test_kerberos.py).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from confgen.render import Fragment
from confgen.site.model import Site
from tests.namespaces import Bridge, Machine
from tests.pool.chroot import HOSTNAME, SUBMITTER, Root
from tests.pool.pool import ROOT_CONFIG, Pool, fresh_local_dir, role_files

BASE = "/var/lib/confgen-test/ha"

#: HAD's step interval is ((2 * HAD_CONNECTION_TIMEOUT) * number of HADs + 1) * 2 seconds
#: (condor_had/StateMachine.cpp); the rendered config leaves the timeout at its default of 5 s:
#: 42 s per step with two central managers. The test takes 1 s (10 s per step) to keep its wall time;
#: CONFGEN_HA_RENDERED_TIMING=1 runs it with the rendered (default) timing instead.
RENDERED_TIMING = os.environ.get("CONFGEN_HA_RENDERED_TIMING", "") not in ("", "0")
HAD_CONNECTION_TIMEOUT = 5 if RENDERED_TIMING else 1
REPLICATION_INTERVAL = 5


def had_interval(connection_timeout: int, hads: int) -> int:
    """Seconds between two steps of HAD's state machine (PASSIVE -> ELECTION -> LEADER)."""
    return (connection_timeout * 2 * hads + 1) * 2


_HAD_SPEED = "" if RENDERED_TIMING else f"""# Speed: HAD steps every {had_interval(HAD_CONNECTION_TIMEOUT, 2)} s instead of {had_interval(5, 2)} s (rendered: the default timeout of 5 s).
HAD_CONNECTION_TIMEOUT = {HAD_CONNECTION_TIMEOUT}
"""

#: NOT SHIPPED: what the test adds to every rendered role directory (test.d/99-confgen-test.conf).
OVERRIDES = """# NOT SHIPPED. Test overrides of the HA failover test (tests/pool/ha.py).
# FS only: this test has no KDC (tests/pool/test_kerberos.py runs one); FS works between the test's
# machines only because they share one root directory.
SEC_DEFAULT_AUTHENTICATION_METHODS = FS
SEC_CLIENT_AUTHENTICATION_METHODS = FS
# The bridge carries IPv4 addresses only, and /etc/hosts names only those.
ENABLE_IPV6 = False
# Speed: daemons advertise every few seconds instead of every 5 minutes.
UPDATE_INTERVAL = 2
MASTER_UPDATE_INTERVAL = 5
"""
PER_ROLE = {
    "central-manager": f"""# Speed: a negotiation cycle every 2 s instead of every 60 s.
NEGOTIATOR_INTERVAL = 2
NEGOTIATOR_MIN_INTERVAL = 1
NEGOTIATOR_CYCLE_DELAY = 1
{_HAD_SPEED}# Speed: the leader's replication daemon sends the accountant's state every {REPLICATION_INTERVAL} s instead of every
# 300 s (the default the site renders), so the test sees it reach the other central manager.
REPLICATION_INTERVAL = {REPLICATION_INTERVAL}
""",
    "submit": """# Speed: the schedd asks for matches every 2 s.
SCHEDD_INTERVAL = 2
SCHEDD_MIN_INTERVAL = 1
""",
    "execute": """# Speed: the (stand-in) health script runs every 2 s.
STARTD_CRON_HEALTH_PERIOD = 2s
""",
}


@dataclass
class Host:
    """One machine of the HA pool: its role, host name, bridge address and instance directory."""

    role: str
    machine: Machine
    address: str = ""

    @property
    def name(self) -> str:
        return self.machine.hostname

    @property
    def inst(self) -> str:
        return self.name.split(".")[0]

    @property
    def env(self) -> dict[str, str]:
        return {"CONDOR_CONFIG": f"{BASE}/{self.inst}/condor_config"}

    def log(self, root: Root, name: str) -> Path:
        return root.host(f"{BASE}/{self.inst}/local/log/{name}")


def node_name(site: Site, prefix: str) -> str:
    """A host name inside the site's pool hosts (its first `*.domain` pattern): the collector accepts
    daemons only from there."""
    for pattern in site.pool_hosts:
        if pattern.startswith("*.") and "*" not in pattern[2:]:
            return f"{prefix}.{pattern[2:]}"
    raise AssertionError(f"security.pool_hosts has no '*.domain' pattern to name the test's nodes in: {site.pool_hosts}")


class HAPool:
    """The site's central managers, an access point and an execute node of `execute_role`."""

    def __init__(self, root: Root, site: Site, fragments: list[Fragment], execute_role: str) -> None:
        self.root = root
        self.site = site
        self.fragments = fragments
        self.bridge = Bridge("confgen-ha0", subnet=78)
        path = root.path
        self.cms = [Host("central-manager", Machine(path, cm, net=True)) for cm in site.central_managers]
        self.ap = Host("submit", Machine(path, node_name(site, "confgen-test-ap"), net=True))
        self.wn = Host(execute_role, Machine(path, node_name(site, "confgen-test-wn"), net=True))
        self._old_hosts = root.host("/etc/hosts").read_text()

    @property
    def hosts(self) -> list[Host]:
        return [*self.cms, self.ap, self.wn]

    def start(self) -> None:
        Pool(self.root, self.fragments).install()  # images, probe, stand-in health script, bind sources
        self.bridge.up()
        for host in self.hosts:
            host.machine.start()
            host.address = self.bridge.attach(host.machine)
        lines = [f"{h.address} {h.name}" for h in self.hosts]
        self.root.write("/etc/hosts", "\n".join(["127.0.0.1 localhost " + HOSTNAME, *lines]) + "\n")
        for host in self.hosts:
            self.configure(host)
        for host in self.hosts:
            self.root.run("condor_master", env=host.env, machine=host.machine)

    def stop(self) -> None:
        for host in self.hosts:
            host.machine.stop()
        self.bridge.down()
        self.root.write("/etc/hosts", self._old_hosts)

    def configure(self, host: Host) -> None:
        r, inst = self.root, host.inst
        kind = "execute" if host.role.startswith("execute-") else host.role
        r.install_dir(f"{BASE}/{inst}/config.d", role_files(self.fragments, host.role))
        r.install_dir(f"{BASE}/{inst}/test.d", {"99-confgen-test.conf": OVERRIDES + PER_ROLE[kind]})
        r.write(f"{BASE}/{inst}/condor_config", ROOT_CONFIG.format(base=BASE, inst=inst))
        fresh_local_dir(r, f"{BASE}/{inst}/local")

    # --- tools ----------------------------------------------------------------------------------
    def run(self, host: Host, *argv: str, user: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.root.run(*argv, env=host.env, user=user, machine=host.machine, check=False, timeout=timeout)

    def status_at(self, cm: Host, *args: str) -> str:
        """condor_status against one collector, from the access point."""
        return self.run(self.ap, "condor_status", "-pool", f"{cm.name}:9618", *args, timeout=30).stdout.strip()

    def running(self, host: Host, daemon: str) -> bool:
        """Is a process of `daemon` (e.g. condor_negotiator) running in the host's machine?"""
        for pid in host.machine.pids():
            try:
                argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if Path(argv0).name == daemon:
                return True
        return False

    def submit(self, description: str, user: str = SUBMITTER) -> int:
        self.root.write(f"/home/{user}/job.sub", description)
        proc = self.run(self.ap, "condor_submit", f"/home/{user}/job.sub", user=user)
        m = re.search(r"submitted to cluster (\d+)", proc.stdout)
        assert proc.returncode == 0 and m, proc.stdout + proc.stderr
        return int(m.group(1))

    def state_file(self, cm: Host) -> str:
        """The replicated accountant state of a central manager (STATE_FILE, with its SPOOL)."""
        out = self.run(cm, "condor_config_val", "STATE_FILE").stdout.strip()
        assert out.startswith("/"), out
        return out

    def job_status(self, cluster: int) -> str:
        out = self.run(self.ap, "condor_q", "-allusers", str(cluster), "-af", "JobStatus").stdout.strip()
        if out:
            return {"1": "idle", "2": "running", "5": "held"}.get(out, out)
        hist = self.run(self.ap, "condor_history", str(cluster), "-af", "JobStatus", "-limit", "1").stdout.strip()
        return {"4": "completed", "3": "removed"}.get(hist, hist or "unknown")
