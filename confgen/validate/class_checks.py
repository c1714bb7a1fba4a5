"""Built-in checks of the per-class policy and the admin switch, with expectations from the site's rules:
only_gpu_jobs from the job's RequestGPUs, the class's start clause evaluated on its own with classad2,
the switch False / unset / True, the class's attributes and binds in its slot ad and bind list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import classad2

from confgen.diagnostics import later
from confgen.site.class_policy import parse_clause
from confgen.site.model import NodeClass, Site
from confgen.validate.evaluate import ExecuteRole, job_ad

if TYPE_CHECKING:
    from confgen.validate.checks import Tally


#: Sample GPU requests: none (the attribute undefined), zero, one.
GPU_REQUESTS: tuple[int | None, ...] = (None, 0, 1)


def requests_gpus(job: dict[str, Any]) -> bool:
    value = job.get("RequestGPUs")
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def policy_allows(site: Site, cls: NodeClass, job: dict[str, Any], slot: classad2.ClassAd, ad: classad2.ClassAd | None = None) -> bool:
    """What the class policy and the switch decide for `job` (whose ad is `ad`, if built) on `slot` (the
    rest of START aside)."""
    if cls.only_gpu_jobs and not requests_gpus(job):
        return False
    if cls.start is not None:
        tree, _ = parse_clause(cls.start)
        if tree is None or tree.eval(scope=slot, target=job_ad(job) if ad is None else ad) is not True:
            return False
    return slot.get(site.switch_attribute) is not False


def fitting_job(site: Site, cls: NodeClass, job: dict[str, Any]) -> dict[str, Any]:
    """`job`, asking for a GPU where the class takes only GPU jobs."""
    return {**job, "RequestGPUs": 1} if cls.only_gpu_jobs else job


def check_class_policy(t: Tally, cls: NodeClass, role: ExecuteRole, node: dict[str, Any], jobs: list[tuple[dict[str, Any], classad2.ClassAd]]) -> None:
    site = t.site
    where = ("node_classes", cls.name)
    slot = role.slot(node)
    for name, value in cls.attributes:
        got = role.eval(name, slot, job_ad({}))
        t.expect(got == value and type(got) is type(value), (*where, "attributes", name),
                 f"{cls.role} publishes {name} = {got!r}, expected {value!r} ({type(value).__name__})")
    binds = role.eval("SINGULARITY_BIND_EXPR", slot, job_ad({}))
    want_binds = [b.spec() for b in (*site.binds, *cls.binds)]
    got_binds = binds.split(",") if isinstance(binds, str) else []
    t.expect(got_binds == want_binds, (*where, "binds") if cls.binds else ("containers", "binds"),
             f"on {cls.role} the bind list is {binds!r}, expected the site's binds then the class's: {','.join(want_binds)!r}")
    _switch(t, cls, role, node, jobs)


def _switch(t: Tally, cls: NodeClass, role: ExecuteRole, node: dict[str, Any], jobs: list[tuple[dict[str, Any], classad2.ClassAd]]) -> None:
    """The switch False stops every job; True and unset change nothing."""
    site = t.site
    name = site.switch_attribute
    where = ("admin_switch",) if "admin_switch" in site.doc.data else ("node_classes", cls.name)
    on = role.slot(node)
    t.expect(on.get(name) is True, where, f"{cls.role} does not publish the admin switch {name} = True (got {on.get(name)!r})")
    unset = role.slot(node, without=name)
    off = role.slot({**node, name: False})
    for job, ad in jobs:
        started = role.eval("START", on, ad)
        got = role.eval("START", unset, ad)
        t.expect(got is started, where, later("{}: START is {!r} with {} unset, {!r} with it True, for the job {}; unset must start jobs",
                                              cls.role, got, name, started, job))
        got = role.eval("START", off, ad)
        t.expect(got is False, where, later("{}: START is {!r} with {} = False for the job {}; the switch must stop every new job", cls.role, got, name, job))
