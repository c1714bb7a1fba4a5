"""The decisions, from the loaded roles: the schedd's submit requirements and transforms, then each
execute role's START (and its named clauses CONFGEN_START_*), image and bind expressions."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import classad2

from confgen.explain import requirements as job_requirements
from confgen.render import Fragment
from confgen.site.model import NodeClass, Site
from confgen.validate.checks import node_attrs
from confgen.validate.evaluate import ExecuteRole, SubmitRole, parse_all
from confgen.validate.parser import RoleConfig, load_roles

CLAUSE = re.compile(r"^CONFGEN_START_(\w+)$")
#: What each clause of START stands for, as an admin asks about it.
CLAUSE_MEANING = {
    "OS": "the OS the job names is offered on this class",
    "INTERACTIVE": "the interactive partition (interactive: only / never / allowed)",
    "HEALTH": "the node health script reports the node healthy",
    "DRAIN": "the node is not drained and waiting for its reboot (while draining, condor_defrag's SiteDrainingStart decides)",
    "GPU": "GPU jobs only (only_gpu_jobs)",
    "CLASS": "the class's own start clause (node_classes.<class>.start)",
    "SWITCH": "the admin switch (admin_switch) is not off",
}


@dataclasses.dataclass
class ClassDecision:
    node_class: str
    role: str
    start: bool | None
    clauses: list[tuple[str, Any]]  # (clause name, value) in START's order
    deciding: list[str]  # the clauses that are not True
    image: Any
    binds: list[str]
    threads: dict[str, int]
    #: The job's Requirements (its own, or the one condor_submit writes), evaluated with this class's slot as TARGET.
    requirements: str = ""
    matches: Any = None
    refusing: list[str] = dataclasses.field(default_factory=list)  # the job's clauses that are not True
    #: The job runs here: the slot's START and the job's Requirements both True.
    runs: bool = False
    slot: dict[str, Any] = dataclasses.field(default_factory=dict)  # what the class's slot was assumed to advertise


@dataclasses.dataclass
class Explanation:
    job: dict[str, Any]  # as given
    stored: dict[str, Any]  # after the schedd's transforms (the site's defaults)
    accepted: bool | None
    reason: str
    classes: list[ClassDecision]
    node: dict[str, Any]  # the node state assumed


Loaded = tuple[dict[str, RoleConfig], dict[str, dict[str, classad2.ExprTree]]]


def load(fragments: list[Fragment]) -> Loaded:
    """The rendered roles through HTCondor's parser, their expressions through classad2."""
    configs, problems = load_roles(fragments, "output")
    parsed, more = parse_all(configs, "output")
    if problems or more:
        raise ValueError("; ".join(p.message for p in problems + more))
    return configs, parsed


def explain_job(site: Site, fragments: list[Fragment] | Loaded, job: dict[str, Any], only_class: str | None = None) -> Explanation:
    configs, parsed = load(fragments) if isinstance(fragments, list) else fragments
    submit = SubmitRole(configs["submit"], parsed["submit"])
    accepted, reason = submit.decide(job)
    stored = dict(submit.transformed(job))
    node = node_attrs(site)
    decisions = []
    for cls in site.node_classes:
        if only_class is not None and cls.name != only_class:
            continue
        decisions.append(_one_class(site, cls, ExecuteRole(configs[cls.role], parsed[cls.role]), stored, node))
    return Explanation(job, stored, accepted, reason, decisions, node)


def _one_class(site: Site, cls: NodeClass, execute: ExecuteRole, job: dict[str, Any], node: dict[str, Any]) -> ClassDecision:
    ad = classad2.ClassAd()
    for key, value in job.items():
        ad[key] = value
    assumed = job_requirements.class_slot_attrs(site, cls, job)
    slot = execute.slot({**node, **assumed})
    wanted = str(job["Requirements"]) if "Requirements" in job else job_requirements.default_requirements(job)
    matches, clauses_of_job = job_requirements.evaluate(wanted, ad, slot)
    clauses = [(knob.removeprefix("CONFGEN_START_"), _value(execute.eval(knob, slot, ad))) for knob in _clause_order(execute)]
    start = _value(execute.eval("START", slot, ad))
    dynamic = execute.slot(node, dynamic=True, job=job)
    image = _value(execute.eval("SINGULARITY_IMAGE_EXPR", dynamic, ad))
    binds = _value(execute.eval("SINGULARITY_BIND_EXPR", dynamic, ad))
    cpus = int(job.get("RequestCpus", 1)) if isinstance(job.get("RequestCpus", 1), int) else 1
    names = [n for n in re.split(r"[\s,]+", (execute.config.get("STARTER_NUM_THREADS_ENV_VARS") or "").replace("$(STARTER_NUM_THREADS_ENV_VARS)", "")) if n]
    return ClassDecision(cls.name, cls.role, start if isinstance(start, bool) else None, clauses, [c for c, v in clauses if v is not True],
                         image, [b for b in str(binds).split(",") if b] if isinstance(binds, str) else [], {n: cpus for n in ["OMP_NUM_THREADS", *names]},
                         wanted, matches, [c for c, v in clauses_of_job if v is not True], start is True and matches is True,
                         {k: _value(slot.eval(k)) for k in ("Cpus", "Memory", "GPUs")})


def _clause_order(execute: ExecuteRole) -> list[str]:
    """The CONFGEN_START_* knobs in the order the role's file defines them (the order START joins them)."""
    return sorted((k for k in execute.exprs if CLAUSE.match(k)), key=lambda k: execute.config.origin.get(k, ("", 0)))


def _value(value: Any) -> Any:
    if isinstance(value, classad2.Value):
        return str(value).lower()
    return value
