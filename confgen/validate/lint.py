"""Security lint of the loaded configuration: what a security review would refuse to sign."""

from __future__ import annotations

import re

from confgen.diagnostics import Diagnostic
from confgen.site.model import Site
from confgen.validate.lint_switch import lint_switch
from confgen.validate.parser import RoleConfig

WRITE_LEVELS = ("WRITE", "ADMINISTRATOR", "DAEMON", "NEGOTIATOR", "CONFIG", "ADVERTISE_STARTD", "ADVERTISE_SCHEDD", "ADVERTISE_MASTER")
WEAK_METHODS = {"CLAIMTOBE", "ANONYMOUS"}
#: Levels that change a daemon's ads, policy or configuration: never for a wildcard user or from any host.
#: WRITE joins them on every role but the access point, where users submit.
DAEMON_LEVELS = ("DAEMON", "NEGOTIATOR", "ADMINISTRATOR", "CONFIG", "ADVERTISE_STARTD", "ADVERTISE_SCHEDD", "ADVERTISE_MASTER")


def _level(config: RoleConfig, level: str, feature: str, default: str) -> str:
    value = config.get(f"SEC_{level}_{feature}")
    if value is None and level.startswith("ADVERTISE_"):
        value = config.get(f"SEC_DAEMON_{feature}")
    if value is None:
        value = config.get(f"SEC_DEFAULT_{feature}")
    return (value or default).strip()


def _open_to_anyone(entry: str) -> bool:
    """Does an ALLOW entry match unauthenticated peers? An entry without '@' is a host pattern for any user."""
    user = entry.split("/", 1)[0]
    if "@" not in user:
        return True
    name, _, domain = user.partition("@")
    return name == "*" and domain in ("*", "unmapped")


def _entries(allow: str) -> list[str]:
    return [e for e in re.split(r"[\s,]+", allow) if e]


def _too_wide(entry: str) -> str | None:
    """Why an ALLOW entry is too wide for a daemon-only level (None if it names one identity on named hosts)."""
    user, slash, host = entry.partition("/")
    if "@" not in user:
        return "any user" + ("" if slash else " from any host")
    if "*" in user:
        return "a wildcard user"
    if not slash or host.strip() in ("", "*"):
        return "any host"
    return None


def lint_daemon_levels(site: Site, role: str, config: RoleConfig) -> list[Diagnostic]:
    """Ordinary users never reach a level that changes a daemon's ads or policy; the daemon identity only from named hosts."""
    out: list[Diagnostic] = []
    levels = DAEMON_LEVELS if role == "submit" else ("WRITE", *DAEMON_LEVELS)
    for level in levels:
        for entry in _entries(config.get(f"ALLOW_{level}") or ""):
            if (why := _too_wide(entry)) is not None:
                message = f"ALLOW_{level} grants {entry!r}, {why}; at {level} only the daemon identity on the pool's hosts (security.pool_hosts) belongs"
                out.append(site.diag(("security",), f"security lint: {role}: {message}", code="security"))
    for knob in ("ENABLE_RUNTIME_CONFIG", "ENABLE_PERSISTENT_CONFIG"):
        value = (config.get(knob) or "false").strip().lower()
        if value not in ("false", "0", "no"):
            out.append(site.diag(("security",), f"security lint: {role}: {knob} = {value} lets whoever holds CONFIG rewrite this daemon's policy over the network; set it to False", code="security"))
    out += [site.diag(("security",), f"security lint: {role}: {message}", code="security") for message in lint_switch(site, role, config)]
    return out


def lint(site: Site, configs: dict[str, RoleConfig]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for role, config in sorted(configs.items()):
        out += lint_daemon_levels(site, role, config)
        for level in WRITE_LEVELS:
            allow = config.get(f"ALLOW_{level}")
            auth = _level(config, level, "AUTHENTICATION", "OPTIONAL")
            if allow and not auth.upper().startswith("R"):
                for entry in _entries(allow):
                    if _open_to_anyone(entry):
                        out.append(site.diag(("security",), f"security lint: {role}: ALLOW_{level} = {allow} grants {entry!r} while authentication for {level} is {auth}, not REQUIRED", code="security"))
            methods = [m for m in re.split(r"[\s,]+", _level(config, level, "AUTHENTICATION_METHODS", "")) if m]
            weak = sorted(WEAK_METHODS.intersection(m.upper() for m in methods))
            if not methods or weak:
                what = "is empty" if not methods else f"includes {', '.join(weak)}"
                out.append(site.diag(("security", "methods"), f"security lint: {role}: the authentication methods for {level} {what}; anyone could claim any identity", code="security"))
        if "KERBEROS" in site.methods:
            for feature, key in (("ENCRYPTION", "encryption"), ("INTEGRITY", "integrity")):
                value = _level(config, "DEFAULT", feature, "OPTIONAL")
                if value.upper().startswith(("N", "F")):
                    out.append(site.diag(("security", key), f"security lint: {role}: SEC_DEFAULT_{feature} = {value} while Kerberos authenticates the pool; use required", code="security"))
    return sorted(set(out))
