"""Reboot draining on generated sites (class names, runtime names and units not from the example), read
back through HTCondor's parser and evaluated with classad2: the caps of reboots.max_draining per class,
the central manager's condor_defrag daemons that carry them, the backfill decision just inside and just
outside the drain's remaining window in the runtime attribute's unit, and the refusals. Expectations
come from the site's rules (max_draining, nodes, the unit), not from the rendered text."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import classad2
import pytest

from confgen.render.runtime import GRACE_S
from confgen.site.reboots import drain_caps
from confgen.validate import validate
from confgen.validate.evaluate import ExecuteRole
from confgen.validate.reboot_checks import replay_defrag
from tests.test_runtime_and_health import UNIT_S, base, loaded, refusal

CLASSES = {"alpha-cpu": {"interactive": "allowed", "nodes": 20}, "tiny": {"interactive": "only", "nodes": 1},
           "mid_b": {"interactive": "never"}}


def site_with(unit: str = "seconds", max_draining: dict[str, Any] | None = None, classes: dict[str, Any] | None = None) -> dict[str, Any]:
    reboots: dict[str, Any] = {"check": "/opt/site/bin/reboot-wanted", "spread_days": 2}
    if max_draining is not None:
        reboots["max_draining"] = max_draining
    limit = {"seconds": 86400, "minutes": 1440, "hours": 24}[unit]
    return base(job_attributes={"Walltime": {"type": "integer", "min": 1, "max": limit, "default": 1, "runtime": unit}},
                reboots=reboots, node_classes=classes or CLASSES)


def defrag_knobs(configs: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Node class -> its defrag daemon's knobs (DEFRAG_<X>.KNOB -> value), from the loaded central manager."""
    cm = configs["central-manager"]
    out: dict[str, dict[str, str]] = {}
    for knob, value in cm.knobs.items():
        if knob.endswith(".DEFRAG_REQUIREMENTS"):
            node_class = value.split('SiteNodeClass =?= "')[1].split('"')[0]
            daemon = knob.split(".")[0]
            out[node_class] = {k.split(".", 1)[1]: v for k, v in cm.knobs.items() if k.startswith(daemon + ".")}
            out[node_class]["DAEMON"] = daemon
    return out


def test_caps_per_class_from_counts_shares_and_node_counts() -> None:
    model, _, configs, _ = loaded(site_with(max_draining={"default": "10%", "mid_b": 3, "tiny": 1}))
    caps = {name: cap.count for name, cap in drain_caps(model).items()}
    assert caps == {"alpha-cpu": 2, "mid_b": 3, "tiny": 1}  # 10% of 20; counts written for the class
    knobs = defrag_knobs(configs)
    for name, count in caps.items():
        assert knobs[name]["DEFRAG_MAX_CONCURRENT_DRAINING"] == knobs[name]["DEFRAG_MAX_WHOLE_MACHINES"] == str(count)
    cm = configs["central-manager"]
    assert float(cm.get("DEFRAG_DRAINING_MACHINES_PER_HOUR")) * int(cm.get("DEFRAG_INTERVAL")) == 3600  # one new drain per cycle
    assert all(knobs[n]["DAEMON"] in cm.get("DAEMON_LIST") for n in caps)
    assert len({k["DAEMON"] for k in knobs.values()}) == 3  # one daemon per class


def test_a_default_never_takes_the_last_node_of_a_class_of_known_size() -> None:
    model, _, configs, _ = loaded(site_with(max_draining={"default": 5, "tiny": 0}, classes={**CLASSES, "pair": {"nodes": 2}}))
    caps = {name: cap.count for name, cap in drain_caps(model).items()}
    assert caps == {"alpha-cpu": 5, "mid_b": 5, "pair": 1, "tiny": 0}
    assert "tiny" not in defrag_knobs(configs)  # cap 0: no daemon drains it


def test_without_max_draining_each_class_drains_one_node_at_a_time() -> None:
    model, _, _, _ = loaded(site_with(classes={"k1": {}, "k2": {"nodes": 4}}))
    assert {name: cap.count for name, cap in drain_caps(model).items()} == {"k1": 1, "k2": 1}


@pytest.mark.parametrize("per_cycle", [1, 3])
def test_defrags_cycle_never_takes_more_than_the_cap_only_with_one_drain_per_cycle(per_cycle: int) -> None:
    # defrag.cpp checks the caps before a cycle, then drains up to the cycle's number: why the rate is rendered
    most = replay_defrag(2, 2, per_cycle, nodes=10, cycles=12)
    assert (most <= 2) is (per_cycle == 1)


def slot_states(role: ExecuteRole, *, dynamic: bool = False, **attrs: Any) -> classad2.ClassAd:
    now = int(time.time())
    return role.slot({"RebootNeeded": True, "RebootNeededSince": now - 3600, "SiteBootTime": now - 86400, "SiteRebootDelay": 0, **attrs},
                     dynamic=dynamic)


def test_defrag_selects_only_due_nodes_of_its_own_class_and_counts_draining_and_drained() -> None:
    _, _, configs, parsed = loaded(site_with(max_draining={"default": 1, "tiny": 1}))
    knobs = defrag_knobs(configs)
    no_job = classad2.ClassAd()
    for name in CLASSES:
        role = ExecuteRole(configs[f"execute-{name}"], parsed[f"execute-{name}"])
        due, draining = slot_states(role), slot_states(role, Draining=True)
        drained = slot_states(role, LastDrainStopTime=int(time.time()) - 5)
        not_due = slot_states(role, RebootNeeded=False)
        for other, k in knobs.items():
            requirements, taken = classad2.ExprTree(k["DEFRAG_REQUIREMENTS"]), classad2.ExprTree(k["DEFRAG_WHOLE_MACHINE_EXPR"])
            assert requirements.eval(scope=due, target=no_job) is (other == name)
            assert requirements.eval(scope=not_due, target=no_job) is False
            assert taken.eval(scope=draining, target=no_job) is (other == name)
            assert taken.eval(scope=drained, target=no_job) is (other == name)
            assert taken.eval(scope=due, target=no_job) is False
        assert role.eval("START", drained, classad2.ClassAd({"Walltime": 1, "InteractiveJob": name == "tiny"})) is False


@pytest.mark.parametrize("down_hours", [None, 3])
def test_a_node_gone_for_its_reboot_stays_absent_and_counts_against_its_class_only(down_hours: int | None) -> None:
    site = site_with(max_draining={"default": 1, "tiny": 1})
    if down_hours is not None:
        site["reboots"]["down_hours"] = down_hours
    _, _, configs, parsed = loaded(site)
    cm, knobs, no_job = configs["central-manager"], defrag_knobs(configs), classad2.ClassAd()
    # the collector expires (instead of dropping) the ads a shutting-down node invalidates, and keeps them on disk
    assert cm.get("EXPIRE_INVALIDATED_ADS").lower() == "true" and cm.get("COLLECTOR_PERSISTENT_AD_LOG")
    assert int(cm.get("ABSENT_EXPIRE_ADS_AFTER")) == (down_hours or 24) * 3600
    keep = classad2.ExprTree(cm.get("ABSENT_REQUIREMENTS"))
    for name in CLASSES:
        role = ExecuteRole(configs[f"execute-{name}"], parsed[f"execute-{name}"])
        draining, due = slot_states(role, Draining=True), slot_states(role)
        drained = slot_states(role, LastDrainStopTime=int(time.time()) - 5)
        assert keep.eval(scope=draining, target=no_job) is True and keep.eval(scope=drained, target=no_job) is True
        assert keep.eval(scope=due, target=no_job) is False  # a node not taken for a reboot goes away as before
        assert keep.eval(scope=slot_states(role, RebootNeeded=False), target=no_job) is False
        assert keep.eval(scope=slot_states(role, dynamic=True, Draining=True), target=no_job) is False  # it would count the node after it came back
        gone = slot_states(role, LastDrainStopTime=int(time.time()) - 5, Absent=True)
        for other, k in knobs.items():
            taken = classad2.ExprTree(k["DEFRAG_WHOLE_MACHINE_EXPR"])
            assert "Absent" in no_job.externalRefs(taken)  # the collector returns absent ads only to such a query
            assert taken.eval(scope=gone, target=no_job) is (other == name)


@pytest.mark.parametrize("unit", ["seconds", "hours"])
def test_a_draining_node_backfills_a_job_that_ends_just_inside_the_window_and_refuses_one_just_outside(unit: str) -> None:
    _, _, configs, parsed = loaded(site_with(unit=unit, max_draining={"default": 1, "tiny": 1}))
    cm = configs["central-manager"]
    from_defrag = classad2.ExprTree(cm.get("DEFRAG_DRAINING_START_EXPR"))
    role = ExecuteRole(configs["execute-alpha-cpu"], parsed["execute-alpha-cpu"])
    by_hand = classad2.ExprTree(role.config.get("DEFAULT_DRAINING_START_EXPR"))
    value = 3 if unit == "hours" else 10800  # the same runtime, in the attribute's own unit
    ends = value * UNIT_S[unit] + GRACE_S  # AllowedExecuteDuration, as the submit transform sets it
    job = classad2.ClassAd({"Walltime": value, "AllowedExecuteDuration": ends})
    for left, want in ((ends + 60, True), (ends - 60, False)):
        slot = slot_states(role, Draining=True, ExpectedMachineGracefulDrainingCompletion=int(time.time()) + left)
        assert from_defrag.eval(scope=slot, target=job) is want, (unit, left)
        assert by_hand.eval(scope=slot, target=job) is want, (unit, left)
    slot = slot_states(role, Draining=True, ExpectedMachineGracefulDrainingCompletion=int(time.time()) + 10**6)
    assert from_defrag.eval(scope=slot, target=classad2.ClassAd({"Walltime": value})) is False  # runtime unknown
    retire = classad2.ExprTree(role.config.get("MAXJOBRETIREMENTTIME"))
    assert retire.eval(scope=slot, target=job) == ends
    assert retire.eval(scope=slot_states(role), target=job) == 0  # not draining: as before


@pytest.mark.parametrize(("unit", "max_draining"), [("seconds", {"default": "25%", "tiny": 1, "mid_b": 2}), ("hours", {"default": 1, "tiny": 1}),
                                                     ("hours", {"default": 0})])
def test_confgen_check_passes_on_the_generated_site(unit: str, max_draining: dict[str, Any]) -> None:
    model, fragments, configs, _ = loaded(site_with(unit=unit, max_draining=max_draining))
    report = validate(model, fragments)
    assert [d for d in report.diagnostics if d.code != "htcondor-version"] == [], report.diagnostics  # that note says which HTCondor validated
    assert report.checks_evaluated > 0
    assert bool(defrag_knobs(configs)) is (max_draining != {"default": 0})  # cap 0 everywhere: no defrag daemon


REFUSED: dict[str, tuple[dict[str, Any], str, str]] = {
    "a share without nodes": ({"default": 1, "mid_b": "10%"}, "reboots.max_draining.mid_b", "write node_classes.mid_b.nodes"),
    "a default leaving a one-node class nothing": ({"default": 2}, "reboots.max_draining.default", "write tiny: 1"),
    "a share rounding to nothing": ({"default": 1, "alpha-cpu": "4%"}, "reboots.max_draining.alpha-cpu", "nothing to drain"),
    "an unknown class": ({"default": 1, "tiny": 0, "nosuch": 1}, "reboots.max_draining.nosuch", "there is no node class 'nosuch'"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_max_draining_is_refused_at_its_key(case: str, tmp_path: Path) -> None:
    spec, key, needle = REFUSED[case]
    site = site_with(max_draining=spec)
    errors = refusal(site, tmp_path)
    assert any(needle in e and f": error: {key}:" in e and e.startswith("site.yaml:") for e in errors), errors
