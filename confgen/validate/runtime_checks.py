"""Checks of the runtime limit: the submit transform gives every job the AllowedExecuteDuration its
runtime attribute says, the periodic hold holds exactly the jobs that ran past their limit with a reason
naming it, and a draining node backfills exactly the jobs that end before its deadline. Expectations
come from the site's rules (runtime attribute, unit, drain_hours), not from the rendered text."""

from __future__ import annotations

from typing import Any

from confgen.render.runtime import GRACE_S, HOLD
from confgen.site.model import NodeClass, Site
from confgen.site.runtime import runtime_attribute
from confgen.validate.checks import Tally, base_job, later, node_attrs
from confgen.validate.class_checks import fitting_job, policy_allows
from confgen.validate.evaluate import ExecuteRole, SubmitRole, job_ad, now

#: Seconds of slack for the clock moving between building a sample ad and evaluating it.
SLACK_S = 60
DEFAULT_DRAIN_S = 24 * 3600


def expected_drain_seconds(site: Site) -> int:
    """From the start of draining to the deadline, as the README states the rule."""
    r = site.reboots
    assert r is not None
    if r["drain_hours"] is not None:
        return int(r["drain_hours"]) * 3600
    attr, limit = runtime_attribute(site), site.runtime_limit
    if attr is not None and limit is not None and attr.max is not None:
        return attr.max * limit.seconds + GRACE_S
    return DEFAULT_DRAIN_S


def runtime_limit_checks(t: Tally, submit: SubmitRole) -> None:
    site = t.site
    attr, limit = runtime_attribute(site), site.runtime_limit
    if attr is None or limit is None:
        return
    assert attr.min is not None and attr.max is not None
    where = ("job_attributes", attr.name, "runtime")
    hold = submit.exprs.get(f"SYSTEM_PERIODIC_HOLD_{HOLD}".upper())
    reason = submit.exprs.get(f"SYSTEM_PERIODIC_HOLD_{HOLD}_REASON".upper())
    t.expect(hold is not None and reason is not None, where, f"the submit role has no periodic hold for {attr.name}")
    if hold is None or reason is None:
        return
    values = sorted({attr.min, int(attr.default), attr.max} | ({attr.interactive_max} if attr.interactive_max is not None else set()))
    for value in values:
        seconds = value * limit.seconds
        ad = submit.transformed(base_job(site, **{attr.name: value}))
        got = ad.get("AllowedExecuteDuration")
        t.expect(got == seconds + GRACE_S, where, later("a job with {} = {} ({}) gets AllowedExecuteDuration {!r}, expected {} s "
                                                        "(the limit plus the starter's grace)", attr.name, value, limit.unit, got, seconds + GRACE_S))
        own = base_job(site, **{attr.name: value, "AllowedExecuteDuration": 1})
        got = submit.transformed(own).get("AllowedExecuteDuration")
        t.expect(got == 1, where, f"a job's own shorter AllowedExecuteDuration (1 s) became {got!r}")
        for ran, want in ((seconds - SLACK_S, False), (seconds + SLACK_S, True)):
            if ran < 0:
                continue
            job = submit.transformed(base_job(site, **{attr.name: value, "JobStatus": 2, "JobCurrentStartExecutingDate": now() - ran}))
            got_hold = hold.eval(scope=job)
            t.expect(got_hold is want, where, later("a job with {} = {} {} that has run {} s: the periodic hold is {!r}, expected {}",
                                                    attr.name, value, limit.unit, ran, got_hold, want))
            if want and got_hold is True:
                text = reason.eval(scope=job)
                t.expect(isinstance(text, str) and attr.name in text and f"= {value} {limit.unit}" in text, where,
                         f"the hold reason {text!r} should name {attr.name} = {value} {limit.unit}")
        rerun = submit.transformed(base_job(site, **{attr.name: value, "JobStatus": 2, "JobCurrentStartExecutingDate": now() - seconds - SLACK_S,
                                                     "JobCurrentStartDate": now() - 5}))
        t.expect(hold.eval(scope=rerun) is False, where, f"a re-run job still transferring input (its last execution began {seconds + SLACK_S} s ago) would be held")
        idle = submit.transformed(base_job(site, **{attr.name: value, "JobStatus": 1}))
        t.expect(hold.eval(scope=idle) is False, where, f"an idle job with {attr.name} = {value} would be held")


def draining_checks(t: Tally, cls: NodeClass, role: ExecuteRole, submit: SubmitRole) -> None:
    """A node draining with `left` seconds to its deadline starts a job whose AllowedExecuteDuration
    fits and refuses one that does not, or that has none."""
    site = t.site
    drain = expected_drain_seconds(site)
    os_name = site.default_os if site.default_os in cls.images else cls.images[0]
    interactive = True if cls.interactive == "only" else None
    attr, limit = runtime_attribute(site), site.runtime_limit

    def plain(**attrs: Any) -> dict[str, Any]:  # a job the class otherwise takes (a GPU request on a GPU-only class)
        return fitting_job(site, cls, base_job(site, **{site.job_attribute: os_name, "InteractiveJob": interactive}, **attrs))

    def job(**attrs: Any) -> Any:
        return submit.transformed(plain(**attrs))

    def ends_in(**attrs: Any) -> int | None:
        got = job(**attrs).get("AllowedExecuteDuration")
        return got if isinstance(got, int) else None

    if attr is not None and limit is not None:
        assert attr.min is not None and attr.max is not None
        samples = [(f"{attr.name} = {v} {limit.unit}", {attr.name: v}) for v in sorted({attr.min, attr.max})]
    else:
        samples = [(f"AllowedExecuteDuration = {s} s", {"AllowedExecuteDuration": s}) for s in sorted({3600, drain})]
    fits = [(label, attrs, ends) for label, attrs in samples if (ends := ends_in(**attrs)) is not None]
    for label, attrs, ends in fits:
        for left, want in ((ends + SLACK_S, True), (ends - SLACK_S, False)):
            if not 0 < left <= drain:
                continue
            since = now() - (drain - left)
            node = {**node_attrs(site), "RebootNeeded": True, "RebootNeededSince": since, "SiteRebootDelay": 0}
            want = want and policy_allows(site, cls, plain(**attrs), role.slot(node))
            got = role.eval("START", role.slot(node), job(**attrs))
            verb = "start" if want else "refuse"
            t.expect(got is want, ("reboots",), f"a draining {cls.role} node with {left} s to its deadline should {verb} a job with "
                                                f"{label} (AllowedExecuteDuration {ends} s); START is {got!r}")
    draining = {**node_attrs(site), "RebootNeeded": True, "RebootNeededSince": now() - 60, "SiteRebootDelay": 0}
    unknown = job_ad(plain())
    got = role.eval("START", role.slot(draining), unknown)
    t.expect(got is False, ("reboots",), f"a draining {cls.role} node starts a job with no AllowedExecuteDuration; START is {got!r}")
    for label, attrs, _ in fits[-1:]:
        fresh = role.slot(node_attrs(site))
        got = role.eval("START", fresh, job(**attrs))
        t.expect(got is policy_allows(site, cls, plain(**attrs), fresh), ("reboots",), f"{cls.role} with no reboot due refuses a job with {label}; START is {got!r}")


def run_runtime_checks(t: Tally, execute: dict[str, ExecuteRole], submit: SubmitRole | None) -> None:
    if submit is None:
        return
    runtime_limit_checks(t, submit)
    if t.site.reboots is not None:
        for cls in t.site.node_classes:
            if cls.role in execute:
                draining_checks(t, cls, execute[cls.role], submit)
