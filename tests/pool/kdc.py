"""A real MIT Kerberos KDC for the pool tests: `krb5kdc` from Debian's krb5-kdc, in a machine of its
own on the test bridge, with a realm created per test run (`kdb5_util create -s`), host principals
for the daemon hosts (random keys, exported to the site's server keytab) and user principals with
passwords. Nothing here is a stand-in: the daemons and `kinit` talk to this KDC over the network.

Files (in the HTCondor root, all replaced, never modified in place: the roots are hard-linked copies):
  /etc/krb5.conf                     the realm, its KDC address, the pool's domain in the realm
  <security.kerberos.server_keytab>  one keytab holding every host principal (the machines share it)
  /var/lib/confgen-test/kdc/         the KDC's database, stash, log and kdc.conf
"""

from __future__ import annotations

import time

from tests.namespaces import Machine
from tests.pool.chroot import Root, wait_for

STATE = "/var/lib/confgen-test/kdc"
MASTER_PASSWORD = "confgen-test-master"  # of this throw-away database only

KRB5_CONF = """# NOT SHIPPED. The test realm of tests/pool/test_kerberos.py (a real KDC on the test bridge).
[libdefaults]
    default_realm = {realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    udp_preference_limit = 1
[realms]
    {realm} = {{
        kdc = {kdc}
    }}
[domain_realm]
{domains}
"""

KDC_CONF = """[kdcdefaults]
    kdc_ports = 88
    kdc_tcp_ports = 88
[realms]
    {realm} = {{
        database_name = {state}/principal
        key_stash_file = {state}/stash
        acl_file = {state}/kadm5.acl
        max_life = 10h 0m 0s
    }}
[logging]
    kdc = FILE:{state}/kdc.log
"""


def host_principal(host: str, realm: str) -> str:
    """The principal an HTCondor daemon on `host` uses with the default KERBEROS_SERVER_SERVICE."""
    return f"host/{host}@{realm}"


class Kdc:
    """A realm served by krb5kdc in `machine` (which must have its own network on the bridge)."""

    def __init__(self, root: Root, machine: Machine, realm: str, address: str) -> None:
        self.root = root
        self.machine = machine
        self.realm = realm
        self.address = address
        self.env = {"KRB5_CONFIG": "/etc/krb5.conf", "KRB5_KDC_PROFILE": f"{STATE}/kdc.conf"}

    def write_client_config(self, domains: list[str]) -> None:
        """/etc/krb5.conf: the realm's KDC at its bridge address; each domain (".a.b" or a host) in the realm."""
        mapping = "".join(f"    {d} = {self.realm}\n" for d in domains)
        self.root.write("/etc/krb5.conf", KRB5_CONF.format(realm=self.realm, kdc=self.address, domains=mapping))

    def create(self, hosts: list[str], users: dict[str, str], keytab: str) -> float:
        """A fresh realm with host/<host> for each host (keys in `keytab`) and each user with its
        password; the KDC started. Returns the seconds it took, until the first ticket was issued."""
        start = time.monotonic()
        state = self.root.host(STATE)
        if state.exists():
            for child in state.iterdir():
                child.unlink()
        self.root.write(f"{STATE}/kdc.conf", KDC_CONF.format(realm=self.realm, state=STATE))
        self.root.write(f"{STATE}/kadm5.acl", "")
        self.root.host(keytab).unlink(missing_ok=True)  # ktadd appends: never into a hard-linked file
        self.run("kdb5_util", "-r", self.realm, "-P", MASTER_PASSWORD, "create", "-s")
        commands = [f"addprinc -randkey {host_principal(h, self.realm)}" for h in hosts]
        commands += [f"ktadd -k {keytab} {host_principal(h, self.realm)}" for h in hosts]
        commands += [f"addprinc -pw {password} {user}@{self.realm}" for user, password in users.items()]
        self.run("kadmin.local", "-r", self.realm, input="\n".join(commands) + "\n")
        self.run("krb5kdc", "-r", self.realm, "-P", f"{STATE}/krb5kdc.pid")
        # Ready when it issues a ticket: a service ticket's worth of round trip with a host key.
        wait_for("the KDC to issue a ticket", lambda: self.run("kinit", "-k", "-t", keytab, "-c", f"FILE:{STATE}/probe.cc",
                                                                 host_principal(hosts[0], self.realm), check=False).returncode == 0,
                 timeout=30, interval=0.1)
        return time.monotonic() - start

    def run(self, *argv: str, input: str | None = None, check: bool = True):  # type: ignore[no-untyped-def]
        return self.root.run(*argv, env=self.env, machine=self.machine, input=input, check=check)

    def log(self) -> str:
        path = self.root.host(f"{STATE}/kdc.log")
        return path.read_text() if path.exists() else ""

    def keytab_principals(self, keytab: str) -> set[str]:
        out = self.run("klist", "-k", keytab).stdout
        return {line.split()[-1] for line in out.splitlines() if "@" in line}

