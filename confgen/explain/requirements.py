"""The job's own Requirements against a class's slot: the other half of a match, beside the slot's START.

A job given with --job has no Requirements yet: condor_submit writes one. `default_requirements` writes
it as condor_submit 25.14.1 does (seen with `condor_submit -dump` in the test root): Arch and OpSys, then
Disk, Memory, Cpus and GPUs clauses for what the job requests; left out are the clauses on file transfer
and the startd's version, which every slot of a pool of one release passes. A job from --job-file keeps
the Requirements condor_submit wrote, whole.

The slot is built from the site's class (cpus, memory_gb, gpus; a class without them gets the slot
defaults of confgen.validate.evaluate) plus what every startd advertises (Arch, OpSys, CondorVersion of
the site's htcondor_version, HasFileTransfer): these are stand-ins for a machine, named in explain's
"node assumed" line. A class with gpus: true is assumed to have as many GPUs as the job asks for (at
least one): their number is discovered on the host, not written in the site.
"""

from __future__ import annotations

from typing import Any

import classad2

from confgen.site.model import NodeClass, Site


def default_requirements(job: dict[str, Any]) -> str:
    """The Requirements condor_submit adds to a job that names none."""
    clauses = ['(TARGET.Arch == "X86_64")', '(TARGET.OpSys == "LINUX")']
    for attr, slot_attr in (("RequestDisk", "Disk"), ("RequestMemory", "Memory"), ("RequestCpus", "Cpus")):
        if attr in job:
            clauses.append(f"(TARGET.{slot_attr} >= {attr})")
    if _number(job.get("RequestGPUs")) > 0:
        clauses.append("(TARGET.GPUs >= RequestGPUs)")
    return " && ".join(clauses)


def class_slot_attrs(site: Site, cls: NodeClass, job: dict[str, Any]) -> dict[str, Any]:
    """What a slot of this class advertises that a job's Requirements look at."""
    major, minor = site.htcondor_version
    attrs: dict[str, Any] = {"Arch": "X86_64", "OpSys": "LINUX", "HasFileTransfer": True,
                             "CondorVersion": f"$CondorVersion: {major}.{minor}.0 $", "FileSystemDomain": site.uid_domain,
                             "GPUs": max(1, int(_number(job.get("RequestGPUs")))) if cls.gpus else 0}
    if cls.cpus is not None:
        attrs["Cpus"] = cls.cpus
    if cls.memory_gb is not None:
        attrs["Memory"] = cls.memory_gb * 1024
    return attrs


def split_and(text: str) -> list[str]:
    """The top-level `&&` operands of an expression's text (parentheses and string literals respected)."""
    parts, depth, start, quote, i = [], 0, 0, False, 0
    while i < len(text):
        c = text[i]
        if quote:
            i += 2 if c == "\\" else 1
            quote = quote and c != '"'
            continue
        if c == '"':
            quote = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif text.startswith("&&", i) and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 2
            i += 1
        i += 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def evaluate(requirements: str, job: classad2.ClassAd, slot: classad2.ClassAd) -> tuple[Any, list[tuple[str, Any]]]:
    """(the whole Requirements' value, each top-level clause with its value), the job as MY, the slot as TARGET."""
    whole = classad2.ExprTree(requirements).eval(scope=job, target=slot)
    clauses = [(clause, _plain(classad2.ExprTree(clause).eval(scope=job, target=slot))) for clause in split_and(requirements)]
    return _plain(whole), clauses


def _plain(value: Any) -> Any:
    return str(value).lower() if isinstance(value, classad2.Value) else value


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
