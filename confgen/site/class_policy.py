"""Semantic checks of the per-class policy (node_classes.<c>.only_gpu_jobs, binds, start, attributes)
and of the admin switch (admin_switch.attribute)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import classad2

from confgen.diagnostics import Diagnostic
from confgen.site import knobs
from confgen.site.load import PathKey
from confgen.site.model import Bind, NodeClass, Site

#: Slot attributes confgen itself publishes (slot ads, health and reboot cron jobs).
CONFGEN_PUBLISHED = (
    "SiteOfferedOS", "SiteNodeClass", "NodeIsHealthy", "HealthyForInteractiveUse", "RebootNeeded", "RebootNeededSince",
    "SiteBootTime", "SiteRebootDelay", "SiteRebootDueSince", "SiteDrainStart", "SiteDraining", "SiteDrainDeadline",
    "SiteRebootDue", "SiteRebootDrained", "SiteDrainingStart",
)
#: Attributes HTCondor's startd puts in a slot ad (a site attribute of that name would replace or shadow them).
HTCONDOR_SLOT = (
    "Activity", "Arch", "AssignedGPUs", "CondorPlatform", "CondorVersion", "ConsoleIdle", "Cpus", "CurrentTime", "Disk",
    "DetectedCpus", "DetectedGPUs", "DetectedMemory", "DynamicSlot", "EnteredCurrentActivity", "EnteredCurrentState",
    "FileSystemDomain", "GPUs", "GPUs_Capability", "GPUs_DeviceName", "GPUs_GlobalMemoryMb", "HasContainer", "HasDocker",
    "HasFileTransfer", "HasJobDeferral", "HasSingularity", "HasVM", "IsWakeAble", "KeyboardIdle", "KFlops", "LoadAvg",
    "Machine", "MaxJobRetirementTime", "Memory", "Mips", "MyAddress", "MyType", "Name", "OpSys", "OpSysAndVer",
    "OpSysMajorVer", "OpSysName", "OpSysVer", "PartitionableSlot", "Rank", "RemoteOwner", "RemoteUser", "Requirements",
    "SingularityVersion", "SlotID", "SlotType", "SlotTypeID", "Start", "State", "TargetType", "TotalCpus", "TotalDisk",
    "TotalGPUs", "TotalMemory", "TotalSlots", "UidDomain", "VirtualMemory", "WantAdRevaluate",
)
#: Knob families HTCondor and confgen configure: a slot attribute is a knob of the same name.
KNOB_FAMILY = re.compile(
    r"^(ALLOW|DENY|SEC|STARTD|STARTER|SINGULARITY|SLOT|SCHEDD|COLLECTOR|NEGOTIATOR|MASTER|SHARED|CCB|CONFGEN|ENABLE|"
    r"DAEMON|SETTABLE|PERSISTENT|LOCAL|NETWORK|USE|NUM|JOB|SUBMIT|GPU|DOCKER|CGROUP|MOUNT|KERBEROS|CHOSEN|HAD|"
    r"REPLICATION|UPDATE|CONDOR)_|_DEFAULT_IMAGE$",
    re.IGNORECASE,
)
#: GPU requests of the sample jobs the start clause is evaluated on: none, zero, one.
GPU_REQUESTS: tuple[int | None, ...] = (None, 0, 1)


def class_policy_problems(site: Site) -> Iterator[Diagnostic]:
    yield from _switch(site)
    for cls in site.node_classes:
        where: PathKey = ("node_classes", cls.name)
        if cls.only_gpu_jobs and not cls.gpus:
            yield site.diag((*where, "only_gpu_jobs"), "only_gpu_jobs needs gpus: true on the class (a class that advertises no GPUs "
                            "would start no job at all); add gpus: true or remove only_gpu_jobs")
        yield from _binds(site, cls)
        yield from _attributes(site, cls)
        if cls.start is not None:
            yield from _start(site, cls)
    yield from _notebooks(site)


def _notebooks(site: Site) -> Iterator[Diagnostic]:
    """Every OS the JupyterHub form offers without a GPU must start on a class that takes CPU notebooks."""
    if site.jupyterhub is None:
        return
    cpu = {os_name for c in site.notebook_classes() if not c.only_gpu_jobs for os_name in c.images}
    for cls in site.notebook_classes():
        lonely = [os_name for os_name in cls.images if os_name not in cpu]
        if cls.only_gpu_jobs and lonely:
            yield site.diag(("node_classes", cls.name, "only_gpu_jobs"),
                            f"the JupyterHub form offers notebooks without a GPU on {', '.join(lonely)}, which only this class runs, and it takes "
                            "only GPU jobs: they would never start; set interactive: never here, or offer these OSes on a class that takes CPU notebooks")


def health_names(site: Site) -> list[str]:
    """The health attributes the site's script publishes (health.publishes, else confgen's defaults)."""
    health = site.doc.data.get("health") or {}
    published = health.get("publishes") if isinstance(health, dict) else None
    if isinstance(published, dict) and published:
        return [str(v) for v in published.values()]
    return ["NodeIsHealthy", "HealthyForInteractiveUse"]


def taken_by(site: Site, name: str) -> str | None:
    """Who already owns the slot attribute / knob `name` (None if nobody)."""
    low = name.lower()
    if low in (n.lower() for n in (*CONFGEN_PUBLISHED, *health_names(site))):
        return "an attribute confgen publishes itself (slot, health or reboot attributes)"
    if low in (n.lower() for n in HTCONDOR_SLOT):
        return "an attribute HTCondor puts in every slot ad"
    if name.upper() in knobs.table()["knobs"] or KNOB_FAMILY.search(name):
        return "an HTCondor or confgen configuration knob (a slot attribute is published through a knob of the same name)"
    return None


def _switch(site: Site) -> Iterator[Diagnostic]:
    from confgen.site.semantic import path_problem  # semantic imports this module

    name = site.switch_attribute
    raw = site.doc.data.get("admin_switch", {})
    if (why := taken_by(site, name)) is not None:
        # Without admin_switch.attribute only a health attribute of the same name can collide.
        where: PathKey = ("admin_switch", "attribute") if "attribute" in raw else ("health", "publishes")
        yield site.diag(where, f"{name!r} is {why} and the admin switch (admin_switch.attribute); give one of them another name")
    if "persistent_dir" in raw and (problem := path_problem(raw["persistent_dir"])):
        yield site.diag(("admin_switch", "persistent_dir"), problem)


def _binds(site: Site, cls: NodeClass) -> Iterator[Diagnostic]:
    from confgen.site.semantic import path_problem, target_dir_problem  # semantic imports this module

    raw = site.doc.data["node_classes"][cls.name].get("binds", [])
    targets = {_target(b): ("containers", "binds") for b in site.binds}
    for i, bind in enumerate(cls.binds):
        at: PathKey = ("node_classes", cls.name, "binds", i)
        as_mapping = isinstance(raw[i], dict)
        for field, value in (("source", bind.source), ("target", bind.target)):
            if value is not None and (problem := path_problem(value, colon=True)):
                yield site.diag(at + ((field,) if as_mapping else ()), f"bind {field} {problem}")
        target = _target(bind)
        if (problem := target_dir_problem(site, bind)) is not None:
            yield site.diag(at + (("target" if bind.target else "source",) if as_mapping else ()), problem)
        if target in targets:
            owner = "containers.binds" if targets[target][0] == "containers" else f"node_classes.{cls.name}.binds"
            yield site.diag(at + (("target" if bind.target else "source",) if as_mapping else ()),
                            f"{target!r} is already a bind target in {owner}; a path is mounted once in the container: remove one of them")
        targets.setdefault(target, ("node_classes", cls.name))


def _target(bind: Bind) -> str:
    return (bind.target or bind.source).rstrip("/") or "/"


def _attributes(site: Site, cls: NodeClass) -> Iterator[Diagnostic]:
    where: PathKey = ("node_classes", cls.name, "attributes")
    seen: dict[str, str] = {}
    for name, value in cls.attributes:
        if (why := taken_by(site, name)) is not None:
            yield site.diag((*where, name), f"{name!r} is {why}; pick a site name of your own", key=True)
        elif name.lower() == site.switch_attribute.lower():
            yield site.diag((*where, name), f"{name!r} is the admin switch (admin_switch.attribute); pick another name", key=True)
        elif name.lower() in seen:
            yield site.diag((*where, name), f"{name!r} differs from {seen[name.lower()]!r} only in case; HTCondor compares attribute names without case", key=True)
        seen.setdefault(name.lower(), name)
        if isinstance(value, str) and "$" in value:
            yield site.diag((*where, name), f"{value!r} contains a '$', which HTCondor's configuration reads as a macro; remove it")


# --- the extra START clause -------------------------------------------------------------------

def parse_clause(text: str) -> tuple[classad2.ExprTree | None, str | None]:
    """(the parsed clause, None) or (None, why it cannot be one START clause)."""
    if "$" in text:
        return None, "contains a '$', which HTCondor's configuration expands as a macro; write the expression without it"
    try:
        tree = classad2.ExprTree(text)
    except Exception as exc:  # classad2 raises ClassAdException
        return None, f"does not parse as a ClassAd expression ({exc}); write one expression such as TARGET.Project =!= \"teaching\""
    # As rendered, the clause stands inside parentheses before the rest of START: the same text must
    # read as that one parenthesised expression, so it cannot end the parentheses or the conjunction.
    end = "ConfgenClauseEnd"
    try:
        embedded = str(classad2.ExprTree(f"({text}) && {end}"))
    except Exception:
        embedded = ""
    if embedded != f"({tree}) && {end}":
        return None, "does not stay one expression inside parentheses; write a single expression, balanced parentheses and no comment"
    return tree, None


def sample_slot(site: Site, cls: NodeClass, *, dynamic: bool = False) -> dict[str, Any]:
    """A slot of `cls` as its startd advertises it once healthy (what the start clause sees as MY)."""
    slot: dict[str, Any] = {
        "Name": f"slot1{'_1' if dynamic else ''}@node.example.org", "Machine": "node.example.org", "Arch": "X86_64", "OpSys": "LINUX",
        "PartitionableSlot": not dynamic, "DynamicSlot": dynamic, "SlotType": "Dynamic" if dynamic else "Partitionable",
        "Cpus": 1 if dynamic else (cls.cpus or 32), "Memory": 2048 if dynamic else (cls.memory_gb or 128) * 1024, "Disk": 10**8,
        "GPUs": 1 if cls.gpus else 0, "SiteNodeClass": cls.name, "SiteOfferedOS": list(cls.images), site.switch_attribute: True,
    }
    if site.health_script is not None:
        slot.update(dict.fromkeys(health_names(site), True))
    slot.update(dict(cls.attributes))
    return slot


def sample_jobs(site: Site, cls: NodeClass) -> list[dict[str, Any]]:
    """Jobs a class may see: with and without an OS, interactive or not, with no, zero and one GPU."""
    base: dict[str, Any] = {"Owner": "alice", "JobUniverse": 5, "RequestCpus": 1, "RequestMemory": 2048}
    base.update({a.name: a.default for a in site.job_attributes})
    jobs = []
    for os_name in (None, cls.images[0]):
        for interactive in (False, True):
            for gpus in GPU_REQUESTS:
                job = dict(base)
                if os_name is not None:
                    job[site.job_attribute] = os_name
                if interactive:
                    job["InteractiveJob"] = True
                if gpus is not None:
                    job["RequestGPUs"] = gpus
                jobs.append(job)
    return jobs


def evaluate_clause(tree: classad2.ExprTree, slot: dict[str, Any], job: dict[str, Any]) -> Any:
    return tree.eval(scope=classad2.ClassAd(slot), target=classad2.ClassAd(job))


def _start(site: Site, cls: NodeClass) -> Iterator[Diagnostic]:
    where: PathKey = ("node_classes", cls.name, "start")
    assert cls.start is not None
    tree, why = parse_clause(cls.start)
    if tree is None:
        yield site.diag(where, f"{cls.start!r} {why}")
        return
    for dynamic in (False, True):
        slot = sample_slot(site, cls, dynamic=dynamic)
        for job in sample_jobs(site, cls):
            value = evaluate_clause(tree, slot, job)
            if not isinstance(value, bool):
                kind = "dynamic" if dynamic else "partitionable"
                yield site.diag(where, f"{cls.start!r} evaluates to {_shown(value)} for the sample job {job} on a {kind} slot of {cls.name}; "
                                "START needs True or False: compare attributes a job may lack with =?= or =!= (not == or !=), "
                                "or guard them with isUndefined(...)")
                return


def _shown(value: Any) -> str:
    if isinstance(value, classad2.Value):
        return str(value.name)
    return f"{value!r} (a {type(value).__name__}, not a boolean)"
