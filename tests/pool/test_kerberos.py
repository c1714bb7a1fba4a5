"""Kerberos on real daemons with a real MIT KDC (tests/pool/kdc.py): the shipped site's security
fragments and kerberos.map, unchanged, on hosts named as the site names them.

Machines (tests/namespaces.py), each with its own network, host name and /tmp, joined by a Bridge; the
names are in the root's /etc/hosts (there is no DNS):
  kdc      krb5kdc, the realm security.kerberos.realm created for this run
  cm       the site's first central manager: the central-manager role (collector, negotiator)
  ap       an access point (a pool host): the submit role's schedd
  ep       an execute point (a pool host): one execute class
  remote   a pool host without daemons, where a user submits to the schedd on ap: FS cannot work
           from there (its /tmp is not the schedd's), so only Kerberos can authenticate the user
  stray    (last test) a pool host running the execute role whose name has NO key in the keytab
Every daemon host but stray has host/<its name>@REALM in security.kerberos.server_keytab (one keytab,
shared by the machines as they share the root's files). Each machine sees its rendered role directory
byte for byte at the site's config_dir too (a bind mount), where KERBEROS_MAP_FILE names the map file.
The test-only overrides are all in OVERRIDES; the site's method list (security.methods) is NOT
overridden: the pool's COMMON (pool.py) sets FS, this test does not use it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from confgen.render import render_site
from confgen.site.model import Site
from confgen.validate import validate
from tests.namespaces import Bridge, Machine
from tests.pool.chroot import SUBMITTER, Root, wait_for
from tests.pool.kdc import Kdc, host_principal
from tests.pool.pool import IMAGE_MARKER, ROOT_CONFIG, Pool, role_files

BASE = "/var/lib/confgen-test/krb"
PASSWORD = "confgen-user-password"  # of the test realm's user principal

#: Every change to the rendered roles, in one place. NOT SHIPPED.
OVERRIDES = {
    "all": """# NOT SHIPPED. tests/pool/test_kerberos.py: one central manager (HA has its own test), speed, logs.
COLLECTOR_HOST = $(CONFGEN_CENTRAL_MANAGER1):9618
ENABLE_IPV6 = False
ALL_DEBUG = D_SECURITY
UPDATE_INTERVAL = 2
MASTER_UPDATE_INTERVAL = 5
""",
    "central-manager": """DAEMON_LIST = MASTER, COLLECTOR, NEGOTIATOR
MASTER_NEGOTIATOR_CONTROLLER =
NEGOTIATOR_INTERVAL = 2
NEGOTIATOR_MIN_INTERVAL = 1
NEGOTIATOR_CYCLE_DELAY = 1
""",
    "submit": """SCHEDD_INTERVAL = 2
SCHEDD_MIN_INTERVAL = 1
""",
    "execute": """STARTD_CRON_HEALTH_PERIOD = 2s
""",
}


def kind(role: str) -> str:
    return "execute" if role.startswith("execute-") else role


@dataclass
class KerberosPool:
    root: Root
    site: Site
    kdc: Kdc
    machines: dict[str, Machine]  # label -> machine; its hostname is the host's name
    roles: dict[str, str]  # label -> rendered role it runs (or, for remote, only uses as a client)
    setup_s: float
    addresses: dict[str, str]  # label -> its address on the bridge
    bridge: Bridge
    fragments: list  # type: ignore[type-arg]

    def host(self, label: str) -> str:
        return self.machines[label].hostname

    def env(self, label: str) -> dict[str, str]:
        return {"CONDOR_CONFIG": f"{BASE}/{label}/condor_config"}

    def run(self, label: str, *argv: str, user: str | None = None, env: dict[str, str] | None = None, check: bool = False, timeout: float = 60, input: str | None = None):  # type: ignore[no-untyped-def]
        return self.root.run(*argv, env={**self.env(label), **(env or {})}, user=user, machine=self.machines[label], check=check, timeout=timeout, input=input)

    def log(self, label: str, name: str) -> str:
        path = self.root.host(f"{BASE}/{label}/local/log/{name}")
        return path.read_text(errors="replace") if path.exists() else ""

    def status(self, *args: str) -> str:
        return self.run("cm", "condor_status", *args).stdout.strip()


def pool_domain(site: Site) -> str:
    """A domain whose hosts are pool hosts (security.pool_hosts), for the hosts the site does not name."""
    for pattern in site.pool_hosts:
        if pattern.startswith("*.") and "*" not in pattern[2:]:
            return pattern[2:]
    pytest.skip("security.pool_hosts has no '*.<domain>' pattern to name the test's hosts in")


def write_hosts(root: Root, bridge: Bridge) -> None:
    root.write("/etc/hosts", "127.0.0.1 localhost\n" + "".join(f"{a} {n}\n" for n, a in bridge.members.items()))


def configure(root: Root, fragments: list, label: str, role: str, machine: Machine, config_dir: str) -> None:  # type: ignore[type-arg]
    root.install_dir(f"{BASE}/{label}/config.d", role_files(fragments, role))
    root.install_dir(f"{BASE}/{label}/test.d", {"99-confgen-test.conf": OVERRIDES["all"] + OVERRIDES[kind(role)]})
    root.write(f"{BASE}/{label}/condor_config", ROOT_CONFIG.format(base=BASE, inst=label))
    local = f"{BASE}/{label}/local"
    root.run("rm", "-rf", local)
    root.run("mkdir", "-p", *(f"{local}/{sub}" for sub in ("run", "log", "lock", "spool", "execute")))
    root.run("chown", "-R", "condor:condor", local)
    root.run("chmod", "755", f"{local}/execute")
    # The role directory also where the site installs it, in that host's view only: the rendered
    # KERBEROS_MAP_FILE names the map file there.
    root.run("mount", "--bind", f"{BASE}/{label}/config.d", config_dir, machine=machine)


def start_machine(root: Root, bridge: Bridge, hostname: str) -> Machine:
    machine = Machine(root.path, hostname, net=True)
    machine.start()
    bridge.attach(machine)
    # A /tmp of its own: FS authentication works only where client and server share the directory.
    root.run("mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", "/tmp", machine=machine)
    return machine


@pytest.fixture(scope="module")
def kpool(root: Root, site: Site) -> Iterator[KerberosPool]:
    assert "KERBEROS" in site.methods and site.kerberos is not None and site.kerberos.server_keytab, "the shipped site authenticates with Kerberos"
    root.kill_all()
    fragments = render_site(site)
    domain = pool_domain(site)
    execute_role = next(c.role for c in site.node_classes if c.interactive != "only" and site.default_os in c.images)
    roles = {"cm": "central-manager", "ap": "submit", "ep": execute_role, "remote": "submit"}
    names = {"kdc": f"kdc.{domain}", "cm": site.central_managers[0], "ap": f"ap.{domain}", "ep": f"ep.{domain}", "remote": f"remote.{domain}"}
    bridge = Bridge()
    bridge.up()
    machines: dict[str, Machine] = {}
    krb_conf = root.host("/etc/krb5.conf").read_text()
    hosts = root.host("/etc/hosts").read_text()
    try:
        for label, name in names.items():
            machines[label] = start_machine(root, bridge, name)
        Pool(root, fragments).install()  # images, the job probe, the health and reboot stand-ins
        write_hosts(root, bridge)
        kdc = Kdc(root, machines["kdc"], site.kerberos.realm, bridge.members[names["kdc"]])
        kdc.write_client_config([f".{domain}", *site.central_managers])
        daemon_hosts = [names[label] for label in ("cm", "ap", "ep")]
        setup_s = kdc.create(daemon_hosts, {SUBMITTER: PASSWORD}, site.kerberos.server_keytab)
        kp = KerberosPool(root, site, kdc, machines, roles, setup_s, {label: bridge.members[name] for label, name in names.items()}, bridge, fragments)
        for label, role in roles.items():
            configure(root, fragments, label, role, machines[label], site.config_dir)
        for label in ("cm", "ap", "ep"):
            kp.run(label, "condor_master", check=True)
        wait_for("the schedd and the slot in the collector", lambda: kp.status("-schedd", "-af", "Name") and kp.status("-af", "Name"), timeout=90)
        yield kp
    finally:
        for machine in machines.values():
            machine.stop()
        bridge.down()
        root.write("/etc/krb5.conf", krb_conf)
        root.write("/etc/hosts", hosts)
        root.host(site.kerberos.server_keytab).unlink(missing_ok=True)  # type: ignore[union-attr]


def test_the_kdc_comes_up_per_run_with_the_host_principals_confgen_expects(kpool: KerberosPool, site: Site) -> None:
    assert site.kerberos is not None and site.kerberos.server_keytab
    principals = kpool.kdc.keytab_principals(site.kerberos.server_keytab)
    assert {host_principal(kpool.host(label), site.kerberos.realm) for label in ("cm", "ap", "ep")} <= principals
    print(f"KDC set-up: {kpool.setup_s:.2f} s")


def test_daemons_authenticate_with_kerberos_as_the_mapped_daemon_identity(kpool: KerberosPool, site: Site) -> None:
    """The collector records how each daemon that advertised itself authenticated: every daemon of
    another host with KERBEROS, mapped to the daemon identity (host/<fqdn> -> condor, the realm
    through kerberos.map). The central manager's own daemons share the master's family session."""
    assert site.kerberos is not None
    identity = f"condor@{site.kerberos.map[site.kerberos.realm]}"
    expected = {("DaemonMaster", kpool.host("ap")), ("Scheduler", kpool.host("ap")), ("DaemonMaster", kpool.host("ep")), ("Machine", kpool.host("ep"))}

    def ads() -> dict[tuple[str, str], set[tuple[str, str]]]:
        found: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for line in kpool.status("-any", "-af", "MyType", "Machine", "AuthenticationMethod", "AuthenticatedIdentity").splitlines():
            my_type, machine, method, who = line.split()
            found.setdefault((my_type, machine), set()).add((method, who))
        return found
    with contextlib.suppress(AssertionError):
        wait_for("the masters, schedd and slots of ap and ep in the collector", lambda: expected <= set(ads()), timeout=30)
    found = ads()
    assert expected <= set(found), found
    print("\n".join(f"{k}: {v}" for k, v in sorted(found.items())))
    for key in sorted(expected):
        assert found[key] == {("KERBEROS", identity)}, (key, found[key])
    log = kpool.log("cm", "CollectorLog")
    for label in ("ap", "ep"):
        assert f"KERBEROS: krb5_unparse_name: {host_principal(kpool.host(label), site.kerberos.realm)}" in log



def job_description(site: Site) -> str:
    return "\n".join([
        f"initialdir = /home/{SUBMITTER}",
        "executable = /bin/sh",
        "transfer_executable = false",
        f"arguments = \"-c 'echo $(id -un) $(cat /proc/sys/kernel/hostname) $(cat {IMAGE_MARKER})'\"",
        "output = krb.out.$(Cluster)",
        "error = krb.err.$(Cluster)",
        "request_memory = 64",
        "should_transfer_files = YES",
        f'+{site.job_attribute} = "{site.default_os}"',
        "queue",
    ]) + "\n"


def remote_submit(kp: KerberosPool):  # type: ignore[no-untyped-def]
    """condor_submit on the remote host into the schedd on ap (spooled: no shared file system)."""
    kp.root.write(f"/home/{SUBMITTER}/krb.sub", job_description(kp.site))
    return kp.run("remote", "condor_submit", "-remote", kp.host("ap"), "-pool", kp.host("cm"), f"/home/{SUBMITTER}/krb.sub", user=SUBMITTER)


def test_a_user_without_a_ticket_is_refused_on_a_remote_access_point(kpool: KerberosPool) -> None:
    kpool.run("remote", "kdestroy", "-A", user=SUBMITTER)
    proc = remote_submit(kpool)
    print(proc.stdout, proc.stderr)
    assert proc.returncode != 0 and "submitted to cluster" not in proc.stdout, proc.stdout + proc.stderr
    # Refused by the pool's daemons: Kerberos had no ticket to offer, FS cannot work from another host.
    refused = re.compile(rf"required authentication of {re.escape(kpool.addresses['remote'])} failed: .*Failed to authenticate using FS.*Failed to authenticate using KERBEROS")
    logs = kpool.log("cm", "CollectorLog") + kpool.log("ap", "SchedLog")
    line = refused.search(logs)
    assert line, proc.stderr
    print(line.group(0))


def test_a_user_with_a_ticket_submits_from_a_remote_access_point_and_the_job_runs(kpool: KerberosPool, site: Site) -> None:
    assert site.kerberos is not None
    kinit = kpool.run("remote", "kinit", f"{SUBMITTER}@{site.kerberos.realm}", user=SUBMITTER, input=PASSWORD + "\n")
    assert kinit.returncode == 0, kinit.stdout + kinit.stderr
    try:
        where = ("-name", kpool.host("ap"), "-pool", kpool.host("cm"))
        ping = kpool.run("remote", "condor_ping", "-verbose", "-type", "schedd", *where, "WRITE", user=SUBMITTER)
        print(ping.stdout)
        assert re.search(r"Authenticated using:\s+KERBEROS\n", ping.stdout), ping.stdout + ping.stderr
        assert re.search(rf"Remote Mapping:\s+{SUBMITTER}@{re.escape(site.kerberos.map[site.kerberos.realm])}\n", ping.stdout), ping.stdout  # through kerberos.map
        proc = remote_submit(kpool)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        cluster = int(re.search(r"submitted to cluster (\d+)", proc.stdout).group(1))  # type: ignore[union-attr]
        state = lambda: kpool.run("remote", "condor_q", *where, str(cluster), "-af", "JobStatus", user=SUBMITTER).stdout.strip()  # noqa: E731
        wait_for(f"job {cluster} to complete", lambda: state() == "4", timeout=120)
        got = kpool.run("remote", "condor_transfer_data", *where, str(cluster), user=SUBMITTER)
        assert got.returncode == 0, got.stdout + got.stderr
        out = kpool.root.host(f"/home/{SUBMITTER}/krb.out.{cluster}").read_text()
        assert out.split() == [SUBMITTER, kpool.host("ep"), site.images[site.default_os]], out  # who, where, in which image
    finally:
        kpool.run("remote", "kdestroy", "-A", user=SUBMITTER)


def ping_own_master(kp: KerberosPool, label: str):  # type: ignore[no-untyped-def]
    """condor_ping as root on host `label` to its own master, at DAEMON (authenticated; the daemon identity is granted it on pool hosts)."""
    address = kp.root.host(f"{BASE}/{label}/local/log/.master_address").read_text().splitlines()[0]
    return kp.run(label, "condor_ping", "-verbose", "-address", address, "DAEMON")


def ping_method(proc) -> str | None:  # type: ignore[no-untyped-def]
    """The method condor_ping authenticated with, whether the level was then granted or denied."""
    m = re.search(r"(?:Authenticated using:\s+|using method )(\w+)", proc.stdout + proc.stderr)
    return m.group(1) if m else None


def test_a_host_whose_name_has_no_host_principal_silently_falls_back_to_fs(kpool: KerberosPool, site: Site) -> None:
    """The same role and command on a pool host whose name has no host/<name> key in the keytab:
    Kerberos cannot start, FS (listed after it) answers on the host itself, with no error; only the
    daemons of other hosts notice (FS cannot cross hosts)."""
    assert site.kerberos is not None and site.kerberos.server_keytab
    fs_after_kerberos = "FS" in site.methods[site.methods.index("KERBEROS") + 1:]
    if not fs_after_kerberos:
        pytest.skip("the site does not list FS after KERBEROS: nothing to fall back to")
    # What `confgen check` says about this site: the fall-back this test shows.
    warnings = [d.message for d in validate(site, kpool.fragments).notes if d.severity == "warning"]
    assert any("FS follows KERBEROS" in w for w in warnings), warnings
    ok = ping_own_master(kpool, "ep")
    assert ok.returncode == 0 and ping_method(ok) == "KERBEROS", ok.stdout + ok.stderr  # root's tools use the host's key
    stray = f"stray.{pool_domain(site)}"
    assert host_principal(stray, site.kerberos.realm) not in kpool.kdc.keytab_principals(site.kerberos.server_keytab)
    machine = start_machine(kpool.root, kpool.bridge, stray)
    kpool.machines["stray"] = machine  # stopped with the others
    kpool.addresses["stray"] = kpool.bridge.members[stray]
    write_hosts(kpool.root, kpool.bridge)
    configure(kpool.root, kpool.fragments, "stray", kpool.roles["ep"], machine, site.config_dir)
    kpool.run("stray", "condor_master", check=True)
    wait_for("the stray master's address", lambda: kpool.root.host(f"{BASE}/stray/local/log/.master_address").exists(), timeout=30)
    fell_back = ping_own_master(kpool, "stray")
    print(ok.stdout, fell_back.stdout, fell_back.stderr)
    assert fell_back.returncode == 0 and ping_method(fell_back) == "FS", fell_back.stdout + fell_back.stderr
    identity = f"condor@{site.kerberos.map[site.kerberos.realm]}"
    for proc in (ok, fell_back):  # the same identity, granted: nothing tells the admin
        assert re.search(rf"Remote Mapping:\s+{re.escape(identity)}\nAuthorized:\s+TRUE", proc.stdout), proc.stdout
    # Across hosts there is nothing to fall back to: the collector refuses the stray startd.
    refused = re.compile(rf"required authentication of {re.escape(kpool.addresses['stray'])} failed: .*")
    line = wait_for("the collector to refuse the stray host", lambda: refused.search(kpool.log("cm", "CollectorLog")), timeout=30)
    print(line.group(0))
    assert stray not in kpool.status("-af", "Machine")
    # The stray master's own log, as the server of that ping: Kerberos failed, FS succeeded, no error.
    log = kpool.log("stray", "MasterLog")
    fallback = re.search(r"AUTHENTICATE: method \d+ \(KERBEROS\) failed\.\n(?:.*\n){1,12}?.*AUTHENTICATE_FS: used dir .*status: 1\n.*Authentication was a Success\.", log)
    assert fallback, log[-3000:]
    print(fallback.group(0))
