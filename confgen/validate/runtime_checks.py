"""Checks of the runtime limit: the submit transform gives every job the AllowedExecuteDuration its
runtime attribute says, the periodic hold holds exactly the jobs that ran past their limit with a reason
naming it (draining: validate/reboot_checks.py). Expectations come from the site's rules (runtime
attribute, unit), not from the rendered text."""

from __future__ import annotations

from confgen.diagnostics import later
from confgen.render.runtime import GRACE_S, HOLD
from confgen.site.runtime import runtime_attribute
from confgen.validate.checks import Tally, base_job
from confgen.validate.evaluate import ExecuteRole, SubmitRole, now

#: Seconds of slack for the clock moving between building a sample ad and evaluating it.
SLACK_S = 60


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


def run_runtime_checks(t: Tally, execute: dict[str, ExecuteRole], submit: SubmitRole | None) -> None:
    if submit is None:
        return
    runtime_limit_checks(t, submit)
