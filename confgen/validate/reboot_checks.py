"""Checks of reboot draining, evaluated with classad2 on the roles HTCondor's parser loaded.

- The central manager: each class with a cap has its own condor_defrag whose knobs say the cap; its
  DEFRAG_REQUIREMENTS pick exactly the due nodes of its class; its whole-machine expression counts its
  class's draining and drained-waiting nodes; a drain whose reboot is no longer due is cancelled; and a
  replay of defrag's cycle (src/defrag/defrag.cpp: stop when draining >= DEFRAG_MAX_CONCURRENT_DRAINING or
  whole >= DEFRAG_MAX_WHOLE_MACHINES, else drain the cycle's number) never takes more than the cap.
- A node that goes down for its reboot still counts: the collector keeps the ad of a draining or drained
  node's partitionable slot as absent (EXPIRE_INVALIDATED_ADS, ABSENT_REQUIREMENTS, a persistent ad log,
  ABSENT_EXPIRE_ADS_AFTER = down_hours) and not the ad of any other node or of a dynamic slot, and each
  whole-machine expression names Absent (the collector returns absent ads only to such queries) and
  counts the absent node of its class.
- Each execute role: a drained node waiting for its reboot starts nothing; while draining (what the
  central manager's DEFRAG_DRAINING_START_EXPR and the node's DEFAULT_DRAINING_START_EXPR say) a job whose runtime, in the runtime attribute's unit, ends just before
  the expected end of the drain starts and one that ends just after does not; a job of unknown runtime
  does not; MAXJOBRETIREMENTTIME gives a job its AllowedExecuteDuration while draining only.
Expectations come from the site (max_draining, node counts, runtime attribute and unit, drain_hours)."""

from __future__ import annotations

from typing import Any

import classad2

from confgen.diagnostics import later
from confgen.render.runtime import GRACE_S
from confgen.site.model import NodeClass, Site
from confgen.site.reboots import DEFAULT_DOWN_HOURS, drain_caps
from confgen.site.runtime import runtime_attribute
from confgen.validate.checks import Tally, base_job, node_attrs
from confgen.validate.class_checks import fitting_job, policy_allows
from confgen.validate.evaluate import ExecuteRole, SubmitRole, job_ad, now
from confgen.validate.parser import RoleConfig

SLACK_S = 60
#: The collector evaluates defrag's constraints with the slot ad as MY; classad2 binds MY only with a target.
NO_JOB = classad2.ClassAd()
DEFAULT_DRAIN_S = 24 * 3600


def expected_drain_seconds(site: Site) -> int:
    """The longest a graceful drain waits for a job, as the README states the rule."""
    r = site.reboots
    assert r is not None
    if r["drain_hours"] is not None:
        return int(r["drain_hours"]) * 3600
    attr, limit = runtime_attribute(site), site.runtime_limit
    if attr is not None and limit is not None and attr.max is not None:
        return attr.max * limit.seconds + GRACE_S
    return DEFAULT_DRAIN_S


def _expr(config: RoleConfig, knob: str) -> classad2.ExprTree | None:
    text = config.get(knob)
    return classad2.ExprTree(text) if text else None


def due_attrs(site: Site) -> dict[str, Any]:
    """A node whose reboot check has said for an hour that a reboot is due, with no delay left."""
    return {**node_attrs(site), "RebootNeeded": True, "RebootNeededSince": now() - 3600, "SiteRebootDelay": 0}


def node_states(site: Site, role: ExecuteRole) -> dict[str, classad2.ClassAd]:
    """Slot ads of one class's node: not due, due, draining, drained and waiting for its reboot."""
    base = node_attrs(site)
    due = due_attrs(site)
    return {
        "not due": role.slot(base),
        "due": role.slot(due),
        "draining": role.slot({**due, "Draining": True, "LastDrainStartTime": now() - 60}),
        "drained": role.slot({**due, "LastDrainStartTime": now() - 600, "LastDrainStopTime": now() - 60}),
    }


def gone(slot: classad2.ClassAd) -> classad2.ClassAd:
    """The ad the collector keeps, marked absent, once the node's ads were invalidated (offline_plugin.cpp)."""
    ad = classad2.ClassAd(str(slot))  # a copy (classad2 24.0 cannot deepcopy an ad)
    ad["Absent"] = True
    return ad


def _defrag_names(cm: RoleConfig) -> dict[str, str]:
    """Node class -> the local name of the defrag daemon whose requirements name it (from the knobs)."""
    out = {}
    for knob, text in cm.knobs.items():
        if knob.endswith(".DEFRAG_REQUIREMENTS") and text and 'SiteNodeClass =?= "' in text:
            out[text.split('SiteNodeClass =?= "', 1)[1].split('"', 1)[0]] = knob.split(".", 1)[0]
    return out


def replay_defrag(cap_conc: int, cap_whole: int, per_cycle: int, nodes: int, cycles: int) -> int:
    """The most nodes defrag's cycle takes when every node is due and no drain ends: defrag.cpp's poll()."""
    taken = 0
    for _ in range(cycles):
        if (cap_conc >= 0 and taken >= cap_conc) or (cap_whole >= 0 and taken >= cap_whole):
            continue
        taken = min(nodes, taken + per_cycle)
    return taken


def absent_checks(t: Tally, cm: RoleConfig, execute: dict[str, ExecuteRole]) -> None:
    """The collector keeps the ad of a node gone for its reboot, and only that one, for down_hours."""
    where = ("reboots",)
    knobs = {k: cm.get(k) for k in ("EXPIRE_INVALIDATED_ADS", "COLLECTOR_PERSISTENT_AD_LOG", "ABSENT_EXPIRE_ADS_AFTER")}
    t.expect((knobs["EXPIRE_INVALIDATED_ADS"] or "").lower() == "true" and bool(knobs["COLLECTOR_PERSISTENT_AD_LOG"]), where,
             f"the collector drops the ads of a node that shuts down for its reboot instead of keeping them absent: {knobs}")
    down = (t.site.reboots or {}).get("down_hours") or DEFAULT_DOWN_HOURS
    t.expect(knobs["ABSENT_EXPIRE_ADS_AFTER"] == str(down * 3600), ("reboots", "down_hours") if "down_hours" in (t.site.reboots or {}) else where,
             f"ABSENT_EXPIRE_ADS_AFTER is {knobs['ABSENT_EXPIRE_ADS_AFTER']}, expected {down * 3600} (down_hours {down})")
    keep = _expr(cm, "ABSENT_REQUIREMENTS")
    t.expect(keep is not None, where, "ABSENT_REQUIREMENTS is not set on the central manager")
    if keep is None:
        return
    for cls in t.site.node_classes:
        if cls.role not in execute:
            continue
        role = execute[cls.role]
        for state, slot in node_states(t.site, role).items():
            got = keep.eval(scope=slot, target=NO_JOB)
            want = state in ("draining", "drained")
            t.expect(got is want, where, f"ABSENT_REQUIREMENTS for a {state} node of class {cls.name} going away is {got!r}, expected {want}")
        dynamic = role.slot({**due_attrs(t.site), "Draining": True}, dynamic=True)
        got = keep.eval(scope=dynamic, target=NO_JOB)
        t.expect(got is False, where, f"ABSENT_REQUIREMENTS keeps a dynamic slot of a draining {cls.name} node: {got!r}; "
                                      f"it would count the node after it came back")


def central_manager_checks(t: Tally, cm: RoleConfig, execute: dict[str, ExecuteRole]) -> None:
    site = t.site
    if not any(cap.count for cap in drain_caps(site).values()):
        t.expect(not _defrag_names(cm), ("reboots", "max_draining"), "every class has cap 0, but a condor_defrag drains nodes")
        return
    absent_checks(t, cm, execute)
    interval, per_hour = cm.get("DEFRAG_INTERVAL"), cm.get("DEFRAG_DRAINING_MACHINES_PER_HOUR")
    t.expect(interval is not None and per_hour is not None and float(per_hour) * int(interval) == 3600, ("reboots",),
             f"defrag must start exactly one drain per cycle (DEFRAG_DRAINING_MACHINES_PER_HOUR * DEFRAG_INTERVAL = 3600), "
             f"got {per_hour} * {interval}")
    per_cycle = int(float(per_hour or 0) * int(interval or 600) / 3600 + 0.00001)
    daemons = _defrag_names(cm)
    # Each class's node in each state, and absent, built once: every daemon is evaluated on every class.
    states = {cls.name: node_states(site, execute[cls.role]) for cls in site.node_classes if cls.role in execute}
    absent = {name: {state: gone(ads[state]) for state in ("draining", "drained")} for name, ads in states.items()}
    for name, cap in drain_caps(site).items():
        where = cap.where
        daemon = daemons.get(name)
        if cap.count == 0:
            t.expect(daemon is None, where, f"class {name} has cap 0, but {daemon} would drain its nodes")
            continue
        t.expect(daemon is not None, where, f"no condor_defrag drains class {name} (cap {cap.count}, {cap.how})")
        if daemon is None:
            continue
        conc = int(cm.get(f"{daemon}.DEFRAG_MAX_CONCURRENT_DRAINING") or -1)
        whole = int(cm.get(f"{daemon}.DEFRAG_MAX_WHOLE_MACHINES") or -1)
        t.expect(conc == cap.count and whole == cap.count, where,
                 f"{daemon}: DEFRAG_MAX_CONCURRENT_DRAINING {conc} and DEFRAG_MAX_WHOLE_MACHINES {whole}, expected {cap.count} ({cap.how})")
        nodes = next(c.nodes for c in site.node_classes if c.name == name) or cap.count + 3
        most = replay_defrag(conc, whole, per_cycle, nodes, nodes + 2)
        t.expect(most <= cap.count, where, f"{daemon} would take {most} of {nodes} nodes of class {name} at once; the cap is {cap.count}")
        _selection_checks(t, cm, daemon, name, states, absent)


def _selection_checks(t: Tally, cm: RoleConfig, daemon: str, name: str, states_of: dict[str, dict[str, classad2.ClassAd]],
                      absent_of: dict[str, dict[str, classad2.ClassAd]]) -> None:
    """Daemon `daemon` (of class `name`) picks, counts and cancels the nodes of its class only: evaluated on
    the node of every class (`states_of`: class -> state -> slot ad; `absent_of`: its absent ads)."""
    site, where = t.site, ("reboots",)
    # as defrag.cpp builds its queries: BASE_SLOT_CONSTRAINT, and "Draining =!= true" for candidates
    base = "PartitionableSlot && Offline =!= True"
    requirements = classad2.ExprTree(f"{base} && Draining =!= true && ({cm.get(f'{daemon}.DEFRAG_REQUIREMENTS')})")
    taken = classad2.ExprTree(f"({cm.get(f'{daemon}.DEFRAG_WHOLE_MACHINE_EXPR')}) && {base}")
    cancel = _expr(cm, "DEFRAG_CANCEL_REQUIREMENTS")
    assert cancel is not None
    t.expect("Absent" in NO_JOB.externalRefs(taken), where,
             f"{daemon}: DEFRAG_WHOLE_MACHINE_EXPR does not name Absent, so the collector never returns the ad of a node "
             f"gone for its reboot and the next node drains while it reboots")
    for cls in site.node_classes:
        if cls.name not in states_of:
            continue
        mine = cls.name == name
        states = states_of[cls.name]
        for state in ("draining", "drained"):
            got = taken.eval(scope=absent_of[cls.name][state], target=NO_JOB)
            t.expect(got is mine, where, later("{}: a node of class {} that went down for its reboot while {} (an absent ad) "
                                               "counts against its cap: {!r}, expected {}", daemon, cls.name, state, got, mine))
        for state, slot in states.items():
            got = requirements.eval(scope=slot, target=NO_JOB)
            want = mine and state == "due"
            t.expect(got is want, where, later("{}: DEFRAG_REQUIREMENTS on a {} node of class {} is {!r}, expected {}", daemon, state, cls.name, got, want))
            got = taken.eval(scope=slot, target=NO_JOB)
            want = mine and state in ("draining", "drained")
            t.expect(got is want, where, later("{}: a {} node of class {} counts against its cap: {!r}, expected {}", daemon, state, cls.name, got, want))
            if state in ("draining", "not due"):
                got = cancel.eval(scope=slot, target=NO_JOB)
                t.expect(got is (state == "not due"), where, later("DEFRAG_CANCEL_REQUIREMENTS on a draining node ({}) is {!r}", state, got))


def execute_checks(t: Tally, cls: NodeClass, role: ExecuteRole, submit: SubmitRole, cm: RoleConfig | None) -> None:
    site, where = t.site, ("reboots",)
    retire = _expr(role.config, "MAXJOBRETIREMENTTIME")
    # START while draining: what condor_defrag sends (the central manager's DEFRAG_DRAINING_START_EXPR),
    # and what the startd uses for a drain by hand (DEFAULT_DRAINING_START_EXPR)
    found = {"DEFAULT_DRAINING_START_EXPR": _expr(role.config, "DEFAULT_DRAINING_START_EXPR")}
    if cm is not None:
        found["DEFRAG_DRAINING_START_EXPR"] = _expr(cm, "DEFRAG_DRAINING_START_EXPR")
    starts = {knob: expr for knob, expr in found.items() if expr is not None}
    t.expect(len(starts) == len(found) and retire is not None, where, f"{cls.role}: one of {', '.join(found)} or MAXJOBRETIREMENTTIME is not set")
    if len(starts) != len(found) or retire is None:
        return
    os_name = site.default_os if site.default_os in cls.images else cls.images[0]
    interactive = True if cls.interactive == "only" else None

    def plain(**attrs: Any) -> dict[str, Any]:
        return fitting_job(site, cls, base_job(site, **{site.job_attribute: os_name, "InteractiveJob": interactive}, **attrs))

    states = node_states(site, role)
    job = submit.transformed(plain())
    allowed = policy_allows(site, cls, plain(), states["due"])
    got = role.eval("START", states["drained"], job)
    t.expect(got is False, where, f"a drained {cls.role} node waiting for its reboot: START is {got!r}, expected False")
    got = role.eval("START", states["due"], job)
    t.expect(got is allowed, where, f"a {cls.role} node that is due but not yet draining should keep taking jobs; START is {got!r}")
    attr, limit = runtime_attribute(site), site.runtime_limit
    if attr is not None and limit is not None:
        assert attr.min is not None and attr.max is not None
        samples = [(f"{attr.name} = {v} {limit.unit}", {attr.name: v}) for v in sorted({attr.min, attr.max})]
    else:
        samples = [(f"AllowedExecuteDuration = {s} s", {"AllowedExecuteDuration": s}) for s in (3600, 7200)]
    for label, attrs in samples:
        ad = submit.transformed(plain(**attrs))
        ends = ad.get("AllowedExecuteDuration")
        if not isinstance(ends, int):
            continue
        for left, want in ((ends + SLACK_S, True), (ends - SLACK_S, False)):
            slot = role.slot({**due_attrs(site),
                              "Draining": True, "ExpectedMachineGracefulDrainingCompletion": now() + left})
            want = want and policy_allows(site, cls, plain(**attrs), slot)
            for knob, expr in starts.items():
                got = expr.eval(scope=slot, target=ad)
                t.expect(got is want, where, f"a {cls.role} node draining with {left} s left should {'start' if want else 'refuse'} a job with "
                                             f"{label} (AllowedExecuteDuration {ends} s); {knob} is {got!r}")
        for draining, want_r in ((True, min(ends, expected_drain_seconds(site))), (False, 0)):
            slot = role.slot({**node_attrs(site), "Draining": draining})
            got = retire.eval(scope=slot, target=ad)
            t.expect(got == want_r, where, f"MAXJOBRETIREMENTTIME of a job with {label} on a {cls.role} node "
                                           f"{'draining' if draining else 'not draining'} is {got!r}, expected {want_r}")
    slot = role.slot({**node_attrs(site), "Draining": True, "ExpectedMachineGracefulDrainingCompletion": now() + 10**6})
    for knob, expr in starts.items():
        got = expr.eval(scope=slot, target=job_ad(plain()))
        t.expect(got is False, where, f"a draining {cls.role} node starts a job with no AllowedExecuteDuration; {knob} is {got!r}")


def run_reboot_checks(t: Tally, configs: dict[str, RoleConfig], execute: dict[str, ExecuteRole], submit: SubmitRole | None) -> None:
    if t.site.reboots is None:
        return
    if "central-manager" in configs:
        central_manager_checks(t, configs["central-manager"], execute)
    if submit is not None:
        caps = drain_caps(t.site)
        for cls in t.site.node_classes:
            if cls.role in execute:  # defrag drains only classes with a cap above 0
                drained_by = configs.get("central-manager") if cls.name in caps and caps[cls.name].count > 0 else None
                execute_checks(t, cls, execute[cls.role], submit, drained_by)
