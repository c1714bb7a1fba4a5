"""Checks: the built-in ones generated from the site, and the site's own `checks`, evaluated on the
configuration that HTCondor's parser loaded. Each failure is a Diagnostic at the site.yaml place
responsible for it, with the expected and the actual value."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

import classad2

from confgen.diagnostics import Diagnostic, later
from confgen.hub import description as notebook
from confgen.hub import options as hub
from confgen.render.expressions import OFFERED
from confgen.site.load import PathKey
from confgen.site.model import Check, NodeClass, Site
from confgen.validate.class_checks import GPU_REQUESTS, check_class_policy, policy_allows
from confgen.validate.evaluate import ExecuteRole, SubmitRole, job_ad, now
from confgen.validate.user_images import check_user_images

#: What the health script may have reported: (healthy, interactive); None: not (yet) in the slot ad.
HEALTH_STATES: dict[str, tuple[bool | None, bool | None]] = {
    "healthy": (True, True),
    "healthy, not for interactive use": (True, False),
    "unhealthy": (False, False),
    "not yet reported": (None, None),
}


def health_attrs(site: Site, health: str) -> dict[str, Any]:
    """The slot attributes of a health state, under the names the site's script publishes."""
    healthy, interactive = HEALTH_STATES[health]
    names = site.health_names
    attrs = {names.healthy: healthy}
    if names.interactive is not None:
        attrs[names.interactive] = interactive
    return {k: v for k, v in attrs.items() if v is not None}


@dataclasses.dataclass
class Tally:
    """The checks evaluated so far, and the failures among them."""

    site: Site
    evaluated: int = 0
    failures: list[Diagnostic] = dataclasses.field(default_factory=list)

    def expect(self, ok: bool, path: PathKey, message: str | Callable[[], str]) -> None:
        """Count one check; a failure is reported with `message` (a callable is called only then:
        a message that shows a reason naming every OS would cost as much as the check itself)."""
        self.evaluated += 1
        if not ok:
            self.failures.append(self.site.diag(path, message if isinstance(message, str) else message(), code="check"))


def sample_owner(site: Site) -> str:
    return next(u for u in ("alice", "bob", "carol", "sampleuser") if u not in site.blocked_users)


def node_attrs(site: Site, health: str = "healthy") -> dict[str, Any]:
    """A node as the startd would advertise it once its cron jobs have reported."""
    attrs: dict[str, Any] = health_attrs(site, health) if site.health_script else {}
    if site.reboots is not None:
        attrs.update(RebootNeeded=False, SiteBootTime=now() - 86400)
    return attrs


def base_job(site: Site, **attrs: Any) -> dict[str, Any]:
    job: dict[str, Any] = {"Owner": sample_owner(site), "RequestCpus": 1, "RequestMemory": 2048}
    for attr in site.job_attributes:
        job[attr.name] = attr.default
    job.update(attrs)
    return {k: v for k, v in job.items() if v is not None}


def expected_start(site: Site, cls: NodeClass, job: dict[str, Any], health: str = "healthy") -> bool:
    """What START should decide, from the rules of the site (independent of the rendered text)."""
    os_name = job.get(site.job_attribute)
    ok_os = site.default_os in cls.images if os_name is None else (isinstance(os_name, str) and os_name in cls.images)
    interactive = job.get("InteractiveJob") is True
    ok_interactive = {"only": interactive, "never": not interactive}.get(cls.interactive, True)
    ok_health = True
    if site.health_script is not None:
        healthy, for_interactive = HEALTH_STATES[health]
        needs_second = interactive and site.health_names.interactive is not None
        ok_health = healthy is True and (not needs_second or for_interactive is True)
    return ok_os and ok_interactive and ok_health


def class_checks(site: Site, execute: dict[str, ExecuteRole]) -> Tally:
    """The checks of each node class on its own: the image per OS, START for every sample job, health
    state and slot kind, the class policy and the admin switch."""
    tally = Tally(site)
    for cls in site.node_classes:
        role = execute.get(cls.role)
        if role is not None:
            # The sample jobs' ads, built once: every health state and slot kind evaluates the same jobs.
            samples = [(job, job_ad(job)) for job in _samples(site, cls)]
            _images(tally, cls, role, samples)
            _start_matrix(tally, cls, role, samples)
            check_class_policy(tally, cls, role, node_attrs(site), samples)
    return tally


def pool_checks(site: Site, execute: dict[str, ExecuteRole], submit: SubmitRole | None,
                hub_options: dict[str, Any] | None = None) -> Tally:
    """The checks across the pool: the submit policy, submit and execute agreeing on each OS, user
    images, the site's own checks, and every corner of the notebook options."""
    tally = Tally(site)
    if submit is not None:
        _submit_policy(tally, submit)
        _agreement(tally, execute, submit)
    check_user_images(tally, execute, submit)
    for check in site.checks:
        _site_check(tally, check, execute, submit)
    if hub_options is not None and submit is not None:
        _notebooks(tally, hub_options, execute, submit)
    return tally


def _notebooks(t: Tally, options: dict[str, Any], execute: dict[str, ExecuteRole], submit: SubmitRole) -> None:
    """Every corner of the JupyterHub options is a job the pool accepts, starts, and gives the chosen image."""
    site, where = t.site, ("jupyterhub",)
    notebook_os = site.notebook_os()
    t.expect(set(options["os"]["choices"]) == set(notebook_os), where,
             f"the form offers {options['os']['choices']}, the classes that take notebooks offer {notebook_os}")
    # Built once: a class's slot ad holds its list of OSes, so building it per corner was quadratic.
    slots = {c.role: execute[c.role].slot(node_attrs(site)) for c in site.node_classes if c.role in execute}
    offers = {c.role: frozenset(c.images) for c in site.node_classes}
    candidates = {gpus: [c for c in site.notebook_classes(gpus=gpus) if c.role in execute] for gpus in (False, True)}
    for corner in hub.corners(options):
        try:
            choice = hub.check(options, corner)
        except hub.OptionsError as exc:
            t.expect(False, where, f"the spawner refuses its own options {corner}: {exc}")
            continue
        req = notebook.requests(choice)
        job = {"Owner": sample_owner(site), **notebook.job_attributes(options, choice),
               "RequestCpus": req["request_cpus"], "RequestMemory": req["request_memory"], "RequestGPUs": req.get("request_gpus", 0)}
        accepted, reason = submit.decide(job)
        t.expect(accepted is True, where, later("the notebook {} is refused at submit: {}", corner, reason))
        ad = submit.transformed(job)
        classes = [c for c in candidates[choice.gpus > 0] if choice.os in offers[c.role] and policy_allows(site, c, job, slots[c.role])]
        t.expect(bool(classes), where, f"no node class runs the notebook {corner}")
        for cls in classes:
            role, slot = execute[cls.role], slots[cls.role]
            starts = role.eval("START", slot, ad)
            t.expect(starts is True, where, f"{cls.role} does not start the notebook {corner} (START = {starts!r})")
            got = role.eval("SINGULARITY_IMAGE_EXPR", slot, ad)
            t.expect(got == site.images[choice.os], where, f"on {cls.role} the notebook {corner} gets the image {got!r}, expected {site.images[choice.os]!r}")


def _images(t: Tally, cls: NodeClass, role: ExecuteRole, samples: list[tuple[dict[str, Any], classad2.ClassAd]]) -> None:
    site, attr = t.site, t.site.job_attribute
    slot = role.slot(node_attrs(site))
    where = ("node_classes", cls.name)
    for os_name in cls.images:
        got = role.eval("SINGULARITY_IMAGE_EXPR", slot, job_ad({attr: os_name}))
        t.expect(got == site.images[os_name], ("containers", "images", os_name),
                 later("on {} a job naming {} gets the image {!r}, expected {!r}", cls.role, os_name, got, site.images[os_name]))
    got = role.eval("SINGULARITY_IMAGE_EXPR", slot, job_ad({}))
    t.expect(got == site.images[site.default_os], ("containers", "default"),
             f"on {cls.role} a job naming no OS gets the image {got!r}, expected the default {site.images[site.default_os]!r}")
    t.expect(role.config.get(OFFERED) is not None, where, f"{cls.role} does not advertise {OFFERED}")
    for job, ad in samples:
        got = role.eval("SINGULARITY_JOB", slot, ad)
        want = True if site.all_jobs else attr in job
        t.expect(got is want, ("containers", "all_jobs"), later("on {} SINGULARITY_JOB is {!r} for the job {}, expected {}", cls.role, got, job, want))
    offered = set(cls.images)
    for os_name in [o for o in site.images if o not in offered] + _strangers(site):
        job = {attr: os_name}
        got = role.eval("START", slot, job_ad(job))
        t.expect(got is False, (*where, "images"), later("{} starts a job naming {!r}, which it does not offer (START = {!r})", cls.role, os_name, got))
    binds = role.eval("SINGULARITY_BIND_EXPR", slot, job_ad({}))
    tokens = set(binds.replace(",", " ").split()) if isinstance(binds, str) else set()
    for i, bind in enumerate(site.binds):
        t.expect(bind.spec() in tokens, ("containers", "binds", i), f"on {cls.role} the bind list {binds!r} lacks {bind.spec()!r}")


def _strangers(site: Site) -> list[str]:
    """Names no class offers: an unknown OS, and each OS in another case."""
    names = ["NoSuchOS9"] + [n.swapcase() for n in site.images if n.swapcase() != n]
    return [n for n in names if n not in site.images]


def _samples(site: Site, cls: NodeClass) -> list[dict[str, Any]]:
    attr = site.job_attribute
    jobs: list[dict[str, Any]] = []
    for os_name, interactive, gpus in itertools.product([None, *cls.images[:3], "NoSuchOS9"], (False, True), GPU_REQUESTS):
        jobs.append(base_job(site, **{attr: os_name, "InteractiveJob": True if interactive else None, "RequestGPUs": gpus}))
    return jobs


def _start_matrix(t: Tally, cls: NodeClass, role: ExecuteRole, samples: list[tuple[dict[str, Any], classad2.ClassAd]]) -> None:
    site = t.site
    healths = list(HEALTH_STATES) if site.health_script else ["healthy"]
    where = ("node_classes", cls.name)
    for health in healths:
        node = node_attrs(site, health)
        partitionable = role.slot(node)
        for job, ad in samples:
            expected = expected_start(site, cls, job, health)
            for kind, slot in (("partitionable", partitionable), ("dynamic", role.slot(node, dynamic=True, job=job))):
                want = expected and policy_allows(site, cls, job, slot, ad)
                got = role.eval("START", slot, ad)
                t.expect(got is want, where, later("{} ({}, {} slot): START is {!r} for the job {}, expected {}", cls.role, health, kind, got, job, want))


def _submit_policy(t: Tally, submit: SubmitRole) -> None:
    site = t.site
    attr = site.job_attribute
    for i, user in enumerate(site.blocked_users):
        _decide(t, submit, base_job(site, Owner=user), False, ("security", "blocked_users", i), "blocked_users")
    offered = site.offered_anywhere()
    for os_name in offered:
        _decide(t, submit, base_job(site, **{attr: os_name}), True, ("containers", "images", os_name), None)
    listed = ", ".join(offered)
    for stranger in _strangers(site):
        _decide(t, submit, base_job(site, **{attr: stranger}), False, ("containers", "images"), (f'"{stranger}"', listed))
    _decide(t, submit, base_job(site), True, ("containers", "default"), None)
    for a in site.job_attributes:
        where: PathKey = ("job_attributes", a.name)
        if a.type == "string":
            for value in a.values:
                _decide(t, submit, base_job(site, **{a.name: value}), True, where, None)
            _decide(t, submit, base_job(site, **{a.name: "no-such-value"}), False, where, ('"no-such-value"', ", ".join(a.values)))
            _decide(t, submit, base_job(site, **{a.name: 7}), False, where, None)
        else:
            assert a.min is not None and a.max is not None
            for good in (a.min, a.max):
                _decide(t, submit, base_job(site, **{a.name: good}), True, where, None)
            for bad in (a.min - 1, a.max + 1, "x"):
                _decide(t, submit, base_job(site, **{a.name: bad}), False, where, (f"{a.min} to {a.max}", 'has "x"' if bad == "x" else f"has {bad}"))
            if a.interactive_max is not None:
                _decide(t, submit, base_job(site, **{a.name: a.interactive_max, "InteractiveJob": True}), True, where, None)
                if a.interactive_max + 1 <= a.max:
                    _decide(t, submit, base_job(site, **{a.name: a.interactive_max + 1, "InteractiveJob": True}), False, where, (f"at most {a.name} = {a.interactive_max}", f"has {a.interactive_max + 1}"))
        job = base_job(site)
        del job[a.name]
        _decide(t, submit, job, True, where + ("default",), None)


def _decide(t: Tally, submit: SubmitRole, job: dict[str, Any], want: bool, where: PathKey, reason_has: str | tuple[str, ...] | None) -> None:
    """The submit decision; a refusal's reason must name the policy and show the job's value as it is."""
    got, reason = submit.decide(job)
    if got is None:
        t.expect(False, where, f"a submit requirement is not boolean for the job {job}: {reason}")
        return
    verb = "accepted" if want else "rejected"
    t.expect(got is want, where, later("the job {} should be {} at submit; it was {}{}", job, verb, "accepted" if got else "rejected: ", "" if got else reason))
    if not want and got is False and reason_has is not None:
        for needle in (reason_has,) if isinstance(reason_has, str) else reason_has:
            t.expect(needle in reason, where, later("the reason {!r} should name {!r}", reason, needle))


def _agreement(t: Tally, execute: dict[str, ExecuteRole], submit: SubmitRole) -> None:
    """A job the submit check accepts gets exactly the image it named on every class that starts it."""
    site = t.site
    names = list(site.images) + _strangers(site)
    # Built once per class: a slot ad holds the class's list of OSes (per name and class it was quadratic).
    roles = [(role, role.slot(node_attrs(site))) for role in (execute.get(c.role) for c in site.node_classes) if role is not None]
    for os_name in names:
        job = base_job(site, **{site.job_attribute: os_name})
        accepted, ad = submit.accepts(job)  # the submit check decided this job already: its verdict is kept
        if not accepted:  # refused at submit: it never reaches a class, and no class's START is asked
            continue
        for role, slot in roles:
            if role.eval("START", slot, ad) is True:
                got = role.eval("SINGULARITY_IMAGE_EXPR", slot, ad)
                t.expect(got == site.images.get(os_name), ("containers", "images"),
                         f"{role.config.role} starts a job naming {os_name} but gives it the image {got!r}")


def _site_check(t: Tally, check: Check, execute: dict[str, ExecuteRole], submit: SubmitRole | None) -> None:
    site = t.site
    where: PathKey = ("checks", check.index)
    label = f"check {check.name!r}"
    expect = check.expect
    classes = [site.node_class(check.node)] if check.node else list(site.node_classes)
    # On an execute node the job has passed the submit transforms: the site defaults are set.
    job = base_job(site, **check.job)
    if "image" in expect:
        named = check.job.get(site.job_attribute, site.default_os)
        targets = [c for c in classes if c is not None and (check.node or named in c.images)]
        want = site.images[expect["image"]]
        t.expect(bool(targets), where + ("expect", "image"), f"{label}: no node class offers {named!r}")
        for cls in targets:
            role = execute[cls.role]
            got = role.eval("SINGULARITY_IMAGE_EXPR", role.slot({**node_attrs(site), **check.slot}), job_ad(job))
            t.expect(got == want, where + ("expect", "image"), f"{label}: on {cls.role} expected the image {want!r} ({expect['image']}), got {got!r}")
    if "start" in expect:
        for start_cls in classes:
            assert start_cls is not None
            role = execute[start_cls.role]
            got = role.eval("START", role.slot({**node_attrs(site), **check.slot}), job_ad(job))
            t.expect(got is expect["start"], where + ("expect", "start"), f"{label}: on {start_cls.role} expected START {expect['start']}, got {got!r}")
    if "submit" in expect and submit is not None:
        full = {"Owner": sample_owner(site), **check.job}
        got, reason = submit.decide(full)
        want = expect["submit"] == "accepted"
        shown = "non-boolean: " + reason if got is None else ("accepted" if got else f"rejected ({reason})")
        t.expect(got is want, where + ("expect", "submit"), f"{label}: expected {expect['submit']}, got {shown}")
        if "reason" in expect and got is False:
            t.expect(expect["reason"] in reason, where + ("expect", "reason"), f"{label}: the reason {reason!r} does not contain {expect['reason']!r}")
