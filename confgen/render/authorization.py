"""Who may do what on each role: the ALLOW_* lists of 30-security.conf.

Each level is granted only to the identities and hosts that need it:

| level          | central-manager        | submit                       | execute-<class>        |
|----------------|------------------------|------------------------------|------------------------|
| READ           | anyone (encrypted)     | anyone (encrypted)           | anyone (encrypted)     |
| WRITE          | daemon on pool hosts   | users on pool hosts          | daemon on pool hosts   |
| DAEMON         | daemon on pool hosts   | daemon on pool hosts         | daemon on pool hosts   |
| NEGOTIATOR     | daemon on the CMs      | daemon on the CMs            | daemon on the CMs      |
| ADMINISTRATOR  | daemon and root on the CMs; on the host itself the daemon identity and root      |
| CONFIG         | nobody (runtime and persistent configuration are off)                            |

"daemon" is condor@<uid_domain>: the identity of pool daemons under FS, and the identity HTCondor gives
any Kerberos host principal of the realm (KERBEROS_SERVER_USER) — so it is accepted only from the
pool's hosts (security.pool_hosts). Users (*@<uid_domain>) write only on access points: on an execute
point WRITE would let them rewrite the slot ads the startd publishes (condor_update_machine_ad), and
on the collector advertise fake daemons.
"""

from __future__ import annotations

from confgen.site.model import Site

#: Levels granted to nobody: runtime configuration would let its holder rewrite any policy.
DISABLED_CONFIG = (("ENABLE_RUNTIME_CONFIG", "False"), ("ENABLE_PERSISTENT_CONFIG", "False"))


def daemon_identity(site: Site) -> str:
    return f"condor@{site.uid_domain}"


def authorization(site: Site, role: str) -> list[tuple[str, list[str]]]:
    """ALLOW_<level> entries for `role`, in the order they are written."""
    dom = site.uid_domain
    daemon = daemon_identity(site)
    daemons_on_pool = [f"{daemon}/{h}" for h in site.pool_hosts]
    on_cms = [f"{daemon}/{h}" for h in site.central_managers]
    # On the host itself: root's tools (condor_reconfig, condor_off) authenticate with FS as the daemon
    # identity, seen as `DENIED ... for user condor@<domain> using method FS` when only root@ was listed.
    admins = on_cms + [f"root@{dom}/{h}" for h in site.central_managers] + [f"{daemon}/$(FULL_HOSTNAME)", f"root@{dom}/$(FULL_HOSTNAME)"]
    users_on_pool = [f"*@{dom}/{h}" for h in site.pool_hosts]
    return [
        ("READ", ["*"]),
        ("WRITE", users_on_pool if role == "submit" else daemons_on_pool),
        ("DAEMON", daemons_on_pool),
        ("NEGOTIATOR", on_cms),
        ("ADMINISTRATOR", admins),
    ]
