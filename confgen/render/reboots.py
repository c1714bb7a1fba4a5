"""Reboot draining on HTCondor's own machinery (condor_defrag, graceful drains, DEFAULT_DRAINING_START_EXPR).

How it fits together (HTCondor 25.x; src/defrag/defrag.cpp and src/condor_startd.V6/ResMgr.cpp):
- The execute node publishes `SiteRebootDue` (its reboot check says so, or its uptime passed
  max_uptime_days; each node adds its own delay, spread over spread_days) and `SiteRebootDrained` (a
  drain finished after the reboot became due: the node is empty and waits for its reboot).
- The central manager runs one condor_defrag per node class (`DEFRAG_<CLASS>`, `-local-name`): each
  counts only the drains it started (defrag.cpp counts `Draining && DrainReason == "Defrag <its name>"`,
  not DEFRAG_REQUIREMENTS), so one daemon per class is what makes a per-class cap.
- The cap counts draining AND drained-waiting nodes: defrag always drains with resume-on-completion, so
  a drained node stops being `Draining` at once; DEFRAG_WHOLE_MACHINE_EXPR matches both states of its
  class and DEFRAG_MAX_WHOLE_MACHINES stops new drains at the cap. DEFRAG_MAX_CONCURRENT_DRAINING is set
  to the cap too. defrag checks the caps only before a cycle and then drains up to its per-cycle number,
  so DEFRAG_DRAINING_MACHINES_PER_HOUR is exactly one machine per DEFRAG_INTERVAL.
- DEFRAG_CANCEL_REQUIREMENTS defaults to DEFRAG_WHOLE_MACHINE_EXPR, which would cancel every drain at
  once: it is set to "the reboot is no longer due".
- While draining, START is replaced by the drain request's start expression. defrag always sends one:
  DEFRAG_DRAINING_START_EXPR, whose default is FALSE (param_info.in), so the startd's own
  DEFAULT_DRAINING_START_EXPR is never used for defrag's drains; and a $(START) in the central manager's
  config would be the central manager's START. So each node publishes its own draining START,
  `SiteDrainingStart` (its START, and: the job's AllowedExecuteDuration ends before
  ExpectedMachineGracefulDrainingCompletion), and both DEFRAG_DRAINING_START_EXPR and the startd's
  DEFAULT_DRAINING_START_EXPR (for a `condor_drain` by hand) are `MY.SiteDrainingStart =?= True`.
  Graceful drains honour MAXJOBRETIREMENTTIME, which while draining is the job's AllowedExecuteDuration
  (at most drain_hours).
- A node that goes down for its reboot must still count against its class's cap, or the next node would
  start draining while it reboots. Its master's shutdown invalidates its ads in the collector; with
  EXPIRE_INVALIDATED_ADS the collector expires them instead, and ABSENT_REQUIREMENTS keeps the partitionable
  slot of a node that was draining or drained as an absent ad (src/condor_collector.V6/offline_plugin.cpp,
  which needs COLLECTOR_PERSISTENT_AD_LOG) until the node's next update replaces it, or for
  reboots.down_hours. Collector queries skip absent ads unless their constraint names `Absent`, so
  DEFRAG_WHOLE_MACHINE_EXPR names it; nothing else (the negotiator, condor_status without -absent) sees them."""

from __future__ import annotations

import dataclasses
import re

from confgen.render import runtime
from confgen.render.env import classad
from confgen.site.model import Site
from confgen.site.reboots import DEFAULT_DOWN_HOURS, drain_caps
from confgen.site.runtime import runtime_attribute

#: Seconds between two cycles of each defrag daemon (HTCondor's default).
DEFRAG_INTERVAL_S = 600
#: The longest graceful drain for a job with no AllowedExecuteDuration, without drain_hours or a runtime attribute.
DEFAULT_DRAIN_HOURS = 24

DUE = "SiteRebootDue"
DRAINING_START = "SiteDrainingStart"
DRAINED = "SiteRebootDrained"
DUE_SINCE = "SiteRebootDueSince"
DELAY = "SiteRebootDelay"
NODE_CLASS = "SiteNodeClass"


def drains_per_hour(interval_s: int = DEFRAG_INTERVAL_S) -> int:
    """Exactly one new drain per cycle: defrag drains floor(rate * interval / 3600) machines per cycle, plus
    hourly and daily remainders; with rate * interval == 3600 both remainders are 0."""
    assert 3600 % interval_s == 0
    return 3600 // interval_s


def drain_seconds(site: Site) -> int:
    """The longest a graceful drain waits for a running job: reboots.drain_hours, else the longest runtime
    the runtime attribute allows (plus the starter's grace), else 24 hours."""
    r = site.reboots
    assert r is not None
    if r["drain_hours"] is not None:
        return int(r["drain_hours"]) * 3600
    attr, limit = runtime_attribute(site), site.runtime_limit
    if attr is not None and limit is not None and attr.max is not None:
        return int(attr.max) * limit.seconds + runtime.GRACE_S
    return DEFAULT_DRAIN_HOURS * 3600


def reboot_delay(site: Site) -> str:
    """Per-node delay before a due reboot asks for a drain, spread over spread_days; drawn by the config parser."""
    assert site.reboots is not None
    spread = int(site.reboots["spread_days"]) * 86400
    return f"$RANDOM_INTEGER(0, {spread}, 3600)" if spread else "0"


def node_attributes(site: Site) -> dict[str, str]:
    """Slot attributes (name -> expression) that say when the node wants a drain and when it is drained."""
    r = site.reboots
    assert r is not None
    due_by_check = "ifThenElse(isInteger(MY.RebootNeededSince), MY.RebootNeededSince, MY.SiteBootTime)"
    by_uptime = f"(MY.SiteBootTime + {int(r['max_uptime_days']) * 86400})" if r["max_uptime_days"] is not None else "undefined"
    return {
        DUE_SINCE: f"ifThenElse(MY.RebootNeeded =?= True, {due_by_check}, {by_uptime})",
        DUE: f"((time() >= MY.{DUE_SINCE} + MY.{DELAY}) =?= True)",
        DRAINED: f"((MY.{DUE} && (MY.Draining =!= True) && (MY.LastDrainStopTime >= MY.{DUE_SINCE})) =?= True)",
    }


def retirement(site: Site) -> str:
    """MAXJOBRETIREMENTTIME: 0 as before, except while draining: the job's AllowedExecuteDuration (the
    starter stops it then anyway), at most drain_seconds."""
    most = drain_seconds(site)
    own = f"ifThenElse(isInteger(TARGET.AllowedExecuteDuration) && TARGET.AllowedExecuteDuration < {most}, TARGET.AllowedExecuteDuration, {most})"
    return f"ifThenElse(MY.Draining =?= True, {own}, 0)"


def backfill() -> str:
    """While draining: only a job whose AllowedExecuteDuration ends before the drain is expected to end."""
    return "((TARGET.AllowedExecuteDuration <= MY.ExpectedMachineGracefulDrainingCompletion - time()) =?= True)"


def draining_start() -> str:
    """DEFRAG_DRAINING_START_EXPR and DEFAULT_DRAINING_START_EXPR: the node's own draining START."""
    return f"(MY.{DRAINING_START} =?= True)"


def absent_requirements() -> str:
    """ABSENT_REQUIREMENTS: the collector keeps the ad of a node taken for its reboot when the node goes away."""
    return f"(PartitionableSlot =?= True) && ({DUE} =?= True) && ((Draining =?= True) || ({DRAINED} =?= True))"


def down_seconds(site: Site) -> int:
    """ABSENT_EXPIRE_ADS_AFTER: how long a node gone for its reboot still counts, if it does not come back."""
    assert site.reboots is not None
    hours = site.reboots.get("down_hours")
    return int(hours if hours is not None else DEFAULT_DOWN_HOURS) * 3600


def start_drain(site: Site) -> str:
    """The START term: a drained node waiting for its reboot takes nothing."""
    return "True" if site.reboots is None else f"(MY.{DRAINED} =!= True)"


@dataclasses.dataclass(frozen=True)
class Defrag:
    """One condor_defrag on the central manager, for one node class."""

    daemon: str  # the DAEMON_LIST entry and -local-name
    name: str  # DEFRAG_NAME: DrainReason is "Defrag <name>@<host>"
    node_class: str
    cap: int
    how: str

    def requirements(self) -> str:
        return f"({NODE_CLASS} =?= {classad(self.node_class)}) && ({DUE} =?= True) && ({DRAINED} =!= True)"

    def taken(self) -> str:
        """Nodes of this class out of service for a reboot: draining, drained and waiting, or gone for the
        reboot (an absent ad: naming Absent is what makes the collector return those)."""
        return f"({NODE_CLASS} =?= {classad(self.node_class)}) && ((Draining =?= True) || ({DRAINED} =?= True) || (Absent =?= True))"

    @staticmethod
    def cancel() -> str:
        return f"({DUE} =!= True)"


def defrag_daemons(site: Site) -> list[Defrag]:
    """One per class whose cap is above 0, sorted by class."""
    if site.reboots is None:
        return []
    out, seen = [], set()
    for name, cap in sorted(drain_caps(site).items()):
        daemon = "DEFRAG_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
        while daemon in seen:  # a-b and a_b
            daemon += "_"
        seen.add(daemon)
        if cap.count > 0:
            out.append(Defrag(daemon, f"reboot-{name}", name, cap.count, cap.how))
    return out
