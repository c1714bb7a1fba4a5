"""Security lint of remote configuration: off everywhere, except that the startd of an execute role
may persist exactly one knob, the admin switch, set from ADMINISTRATOR (admin_switch)."""

from __future__ import annotations

from collections.abc import Iterator

from confgen.site.model import Site
from confgen.validate.parser import RoleConfig

#: The only remote-configuration knobs confgen renders, on execute roles.
PERSIST = "STARTD.ENABLE_PERSISTENT_CONFIG"
SETTABLE = "STARTD.SETTABLE_ATTRS_ADMINISTRATOR"


def _true(value: str | None) -> bool:
    return (value or "false").strip().lower() not in ("false", "0", "no", "")


def lint_switch(site: Site, role: str, config: RoleConfig) -> list[str]:
    return list(_problems(site, role, config))


def _problems(site: Site, role: str, config: RoleConfig) -> Iterator[str]:
    execute = role.startswith("execute-") or any(r.startswith("execute-") for k in site.hosts if k.name == role for r in k.roles)
    persistent = False
    for name in sorted(config.knobs):
        base, value = name.rsplit(".", 1)[-1], config.knobs[name]
        if base == "ENABLE_RUNTIME_CONFIG" and _true(value):
            yield f"{name} = {value} lets a remote client change this daemon's configuration in memory; runtime configuration stays off"
        elif base == "ENABLE_PERSISTENT_CONFIG" and _true(value):
            if execute and name == PERSIST:
                persistent = True
            else:
                yield f"{name} = {value}: persistent configuration is for the admin switch, on the startd of execute roles only ({PERSIST})"
        elif base.startswith("SETTABLE_ATTRS") and (value or "").strip():
            settable = (value or "").replace(",", " ").split()
            if not (execute and name == SETTABLE and [s.lower() for s in settable] == [site.switch_attribute.lower()]):
                yield (f"{name} = {value} lets a remote client set more than the admin switch; "
                       f"the only settable knob is {SETTABLE} = {site.switch_attribute}")
    if persistent:
        if (config.get(SETTABLE) or "").strip().lower() != site.switch_attribute.lower():
            yield f"{PERSIST} is on but {SETTABLE} is not exactly {site.switch_attribute}"
        if not (config.get("PERSISTENT_CONFIG_DIR") or "").startswith("/"):
            yield f"{PERSIST} is on but PERSISTENT_CONFIG_DIR is not an absolute path"
        for name in sorted(config.knobs):
            if name.rsplit(".", 1)[-1] == "ALLOW_CONFIG" and (config.knobs[name] or "").strip():
                yield f"{name} = {config.knobs[name]} grants CONFIG, which may set any knob, where the startd persists configuration; leave it empty"
