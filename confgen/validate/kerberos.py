"""What a site that authenticates with Kerberos needs outside confgen, said by `confgen check`.

Seen on real daemons with a real MIT KDC (tests/pool/test_kerberos.py): a daemon takes the key of
`host/<its own host name>@REALM` from its keytab (KERBEROS_SERVER_KEYTAB); a host whose name has no such
key cannot use Kerberos at all. With FS listed after KERBEROS nothing reports it: on the host itself
FS authenticates the same daemon identity and every command is granted, while daemons of other hosts
are refused (FS cannot cross hosts). These are notes and warnings, not errors: confgen cannot see the
keytabs or the host names, and FS after KERBEROS is what a hub on an access point needs.

Read from the configuration HTCondor's parser loaded, so a principal or keytab set in extra_config is
what the note names.
"""

from __future__ import annotations

import dataclasses
import re

from confgen.diagnostics import Diagnostic
from confgen.site.model import Site
from confgen.validate.parser import RoleConfig

DEFAULT_SERVICE = "host"  # KERBEROS_SERVER_SERVICE's default (param_info.in)
DEFAULT_KEYTAB = "the Kerberos library's default keytab (/etc/krb5.keytab unless krb5.conf or KRB5_KTNAME names another)"


def methods(config: RoleConfig) -> list[str]:
    return [m.upper() for m in re.split(r"[\s,]+", config.get("SEC_DEFAULT_AUTHENTICATION_METHODS") or "") if m]


def principal_form(config: RoleConfig, realm: str) -> str:
    """The principal a daemon of this role takes from its keytab."""
    exact = (config.get("KERBEROS_SERVER_PRINCIPAL") or "").strip()
    if exact:
        return exact
    service = (config.get("KERBEROS_SERVER_SERVICE") or "").strip() or DEFAULT_SERVICE
    return f"{service}/<its fully qualified name>@{realm}"


def role_hosts(site: Site, roles: list[str]) -> str:
    """Which hosts run these roles, as the site names them."""
    parts = []
    if "central-manager" in roles:
        parts.append("the central managers " + ", ".join(site.central_managers))
    others = [r for r in roles if r != "central-manager"]
    if others:
        parts.append("the hosts of " + ", ".join(site.pool_hosts) + " that run " + ", ".join(others))
    return "; ".join(parts)


def kerberos_notes(site: Site, configs: dict[str, RoleConfig]) -> list[Diagnostic]:
    """A note per (principal form, keytab) saying which hosts need which key; a warning where FS
    follows KERBEROS in a role's method list."""
    if site.kerberos is None:
        return []
    kerberos_roles = {role: c for role, c in sorted(configs.items()) if "KERBEROS" in methods(c)}
    groups: dict[tuple[str, str], list[str]] = {}
    for role, config in kerberos_roles.items():
        keytab = (config.get("KERBEROS_SERVER_KEYTAB") or "").strip() or DEFAULT_KEYTAB
        groups.setdefault((principal_form(config, site.kerberos.realm), keytab), []).append(role)
    where = ("security", "kerberos", "server_keytab") if site.kerberos.server_keytab else ("security", "kerberos")
    out = [_note(site, where, form, keytab, roles) for (form, keytab), roles in groups.items()]
    fallback = [role for role, c in kerberos_roles.items() if "FS" in methods(c)[methods(c).index("KERBEROS") + 1:]]
    if fallback:
        out.append(_fallback_warning(site, fallback))
    return out


def _note(site: Site, where: tuple[str, ...], form: str, keytab: str, roles: list[str]) -> Diagnostic:
    message = (f"Kerberos: every daemon host needs the key of {form} in {keytab}, under the name the host gives itself "
               f"(`hostname -f`): {role_hosts(site, roles)}; compare with `klist -k` there")
    return dataclasses.replace(site.diag(where, message, code="kerberos"), severity="note")


def _fallback_warning(site: Site, roles: list[str]) -> Diagnostic:
    hub = " (keep FS if a hub on an access point needs it)" if site.jupyterhub is not None else ""
    message = (f"FS follows KERBEROS ({', '.join(roles)}): on a daemon host whose name has no host principal in its keytab, "
               "Kerberos fails without an error and FS authenticates the same daemon identity on that host, while daemons of "
               f"other hosts refuse it; after installing the keytabs, `condor_ping -verbose DAEMON` on each host must say "
               f"'Authenticated using: KERBEROS'{hub}")
    return dataclasses.replace(site.diag(("security", "methods"), message, code="kerberos"), severity="warning")
