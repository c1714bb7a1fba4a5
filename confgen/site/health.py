"""The names the node health script publishes: HTCondor attribute names, two different ones, and none
that confgen publishes itself."""

from __future__ import annotations

from collections.abc import Iterator

from confgen.diagnostics import Diagnostic
from confgen.site.model import Site

#: Slot attributes confgen's own fragments publish (render/expressions.py, templates/70-reboots).
CONFGEN_SLOT_ATTRIBUTES = frozenset(
    a.lower() for a in ("SiteOfferedOS", "SiteNodeClass", "SiteRebootDelay", "SiteRebootDueSince", "SiteDrainStart",
                        "SiteDraining", "SiteDrainDeadline", "SiteRebootDue", "SiteRebootDrained", "SiteDrainingStart", "SiteBootTime", "RebootNeeded", "RebootNeededSince", "RebootReason")
)
#: Slot attributes HTCondor itself defines, which a cron job's output would overwrite.
HTCONDOR_SLOT_ATTRIBUTES = frozenset(
    a.lower() for a in ("Start", "Requirements", "Rank", "Name", "Machine", "State", "Activity", "Cpus", "Memory",
                        "Disk", "Gpus", "Arch", "OpSys", "MyType", "TargetType", "SlotType", "PartitionableSlot",
                        "DynamicSlot")
)


def health_problems(site: Site) -> Iterator[Diagnostic]:
    raw = site.doc.data.get("health", {}).get("publishes")
    if site.health_script is None or raw is None:
        return
    names = site.health_names
    for field, name in (("healthy", names.healthy), ("interactive", names.interactive)):
        if name is None:
            continue
        where = ("health", "publishes", field)
        if name.lower() in CONFGEN_SLOT_ATTRIBUTES:
            yield site.diag(where, f"{name!r} is a slot attribute confgen publishes itself; name the attribute your health script prints")
        elif name.lower() in HTCONDOR_SLOT_ATTRIBUTES:
            yield site.diag(where, f"{name!r} is a slot attribute HTCondor defines itself; the script's output would overwrite it; "
                            "name the attribute your health script prints")
    if names.interactive is not None and names.interactive.lower() == names.healthy.lower():
        yield site.diag(("health", "publishes", "interactive"),
                        f"{names.interactive!r} is also the healthy attribute (HTCondor compares attribute names without case); "
                        "remove interactive (then interactive jobs need only healthy) or name the second attribute")
