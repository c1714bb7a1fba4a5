"""ClassAd evaluation of the loaded configuration: slot ads built from a role's knobs, sample job ads,
and the decisions HTCondor would take (START, the image, the bind list, the submit requirements)."""

from __future__ import annotations

import dataclasses
import functools
import re
import time
from typing import Any

import classad2

from confgen.diagnostics import Diagnostic
from confgen.validate.parser import RoleConfig

#: Knobs that HTCondor parses as ClassAd expressions (the config parser itself does not).
EXPRESSION_KNOB = re.compile(
    r"^(START|SINGULARITY_JOB|SINGULARITY_IMAGE_EXPR|SINGULARITY_BIND_EXPR|CHOSEN_IMAGE|CONFGEN_START_\w+|"
    r"SUBMIT_REQUIREMENT_(?!NAMES$)\w+|SYSTEM_PERIODIC_HOLD_(?!NAMES$)\w+)$",
    re.IGNORECASE,
)

#: Slot ads kept per role for reuse (the checks ask for a few in turn, each many times; each holds the
#: class's list of OSes, so few: 16 cost 26 MiB at the limits of bounds.py, 4 build 63 ads instead of 57).
SLOT_CACHE = 4


def now() -> int:
    """The clock the expressions see: time() in ClassAd is the wall clock, so sample ads are built from
    it at the moment of the check (a value fixed at import went stale in a long-running process)."""
    return int(time.time())

Value = Any


def expression_knobs(config: RoleConfig) -> list[str]:
    names = [k for k in config.knobs if EXPRESSION_KNOB.match(k) and not k.upper().endswith("_IS_WARNING")]
    names += [a.upper() for a in startd_attrs(config) if a.upper() in config.knobs]
    return sorted(set(names))


def startd_attrs(config: RoleConfig) -> list[str]:
    return [a for a in re.split(r"[\s,]+", config.get("STARTD_ATTRS") or "") if a]


def parse_all(configs: dict[str, RoleConfig], label: str) -> tuple[dict[str, dict[str, classad2.ExprTree]], list[Diagnostic]]:
    """Parse every expression knob of every role with classad2; unparsable ones become diagnostics."""
    parsed: dict[str, dict[str, classad2.ExprTree]] = {}
    problems: list[Diagnostic] = []
    for role, config in sorted(configs.items()):
        parsed[role] = {}
        for knob in expression_knobs(config):
            text = config.knobs.get(knob)
            if text is None:
                continue
            try:
                parsed[role][knob] = classad2.ExprTree(text)
            except Exception as exc:  # classad2 raises ClassAdException, a subclass of Exception
                name, line = config.origin.get(knob, ("?", 0))
                problems.append(Diagnostic(f"{label}/{role}/{name}", line, 1, knob,
                                           f"does not parse as a ClassAd expression ({exc}); HTCondor would ignore it", "classad"))
    return parsed, problems


def _key(attrs: dict[str, Value]) -> str | None:
    """A job's attributes as a compact cache key: their repr, which tells True from 1 and "1" from 1;
    None if a value is not a plain one (its repr might not say all of it). One string, not a tuple of
    tuples: at the limits of bounds.py the tuples held 22 MiB."""
    if not all(v is None or type(v) in _PLAIN for v in attrs.values()):
        return None
    return repr(list(attrs.items()))


_PLAIN = (str, int, float, bool)


def job_ad(attrs: dict[str, Value]) -> classad2.ClassAd:
    ad = classad2.ClassAd()
    for key, value in attrs.items():
        ad[key] = value
    return ad


@dataclasses.dataclass
class ExecuteRole:
    """One execute role, ready to evaluate."""

    config: RoleConfig
    exprs: dict[str, classad2.ExprTree]

    _slots: dict[tuple[Any, ...], classad2.ClassAd] = dataclasses.field(default_factory=dict, repr=False, compare=False)
    _attrs: list[tuple[str, classad2.ExprTree]] | None = dataclasses.field(default=None, repr=False, compare=False)

    def slot(self, extra: dict[str, Value] | None = None, *, dynamic: bool = False, job: dict[str, Value] | None = None,
             without: str | None = None) -> classad2.ClassAd:
        """The slot ad (its STARTD_ATTRS, then `extra`; the attribute `without` left out, as on a node that
        does not publish it). Built once for equal arguments: the ad is shared, evaluations read it and
        nothing may change it (ask for another ad instead)."""
        cpus = int((job or {}).get("RequestCpus", 1)) if dynamic else 32
        items = tuple((extra or {}).items())
        key = (dynamic, cpus, without, tuple((k, type(v), v) for k, v in items))  # typed: True and 1 are equal keys otherwise
        try:
            return self._slots[key]
        except TypeError:  # a value that cannot be a key (a list): built each time
            return self._build_slot(items, dynamic, cpus, without)
        except KeyError:
            if len(self._slots) >= SLOT_CACHE:  # an ad holds the class's list of OSes: keep few
                del self._slots[next(iter(self._slots))]
            ad = self._slots[key] = self._build_slot(items, dynamic, cpus, without)
            return ad

    def _build_slot(self, items: tuple[tuple[str, Value], ...], dynamic: bool, cpus: int, without: str | None = None) -> classad2.ClassAd:
        ad = classad2.ClassAd()
        base: dict[str, Value] = {"PartitionableSlot": not dynamic, "DynamicSlot": dynamic,
                                  "SlotType": "Dynamic" if dynamic else "Partitionable",
                                  "Cpus": cpus, "Memory": 128000, "Disk": 10**9}
        for key, value in base.items():
            ad[key] = value
        if self._attrs is None:
            self._attrs = [(attr, expr) for attr in startd_attrs(self.config) if (expr := self.exprs.get(attr.upper())) is not None]
        for attr, expr in self._attrs:
            ad[attr] = expr
        for key, value in items:
            ad[key] = value
        if without is not None and without in ad:
            del ad[without]
        return ad

    def eval(self, knob: str, slot: classad2.ClassAd, job: classad2.ClassAd) -> Value:
        expr = self.exprs.get(knob.upper())
        if expr is None:
            return classad2.Value.Undefined
        return expr.eval(scope=slot, target=job)


@dataclasses.dataclass
class SubmitRole:
    """The submit role, ready to evaluate: its transforms and submit requirements, as the schedd applies them."""

    config: RoleConfig
    exprs: dict[str, classad2.ExprTree]
    _accepted: dict[str, bool | None] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @functools.cached_property
    def _transforms(self) -> list[tuple[classad2.ExprTree | None, list[tuple[str, str, classad2.ExprTree]]]]:
        """(REQUIREMENTS, [(command, attribute, expression)]) of every rendered transform, in order; the
        commands confgen writes (DEFAULT, SET, EVALSET), read once."""
        transforms: list[tuple[classad2.ExprTree | None, list[tuple[str, str, classad2.ExprTree]]]] = []
        for name in re.split(r"[\s,]+", self.config.get("JOB_TRANSFORM_NAMES") or ""):
            body = self.config.get(f"JOB_TRANSFORM_{name}") if name else None
            requirements: classad2.ExprTree | None = None
            commands: list[tuple[str, str, classad2.ExprTree]] = []
            for line in (body or "").split("\n"):
                command, _, rest = line.strip().partition(" ")
                if command.upper() == "REQUIREMENTS":
                    requirements = classad2.ExprTree(rest)
                elif command.upper() in ("DEFAULT", "SET", "EVALSET") and len(rest.split(None, 1)) == 2:
                    attr, expr = rest.split(None, 1)
                    commands.append((command.upper(), attr, classad2.ExprTree(expr)))
            transforms.append((requirements, commands))
        return transforms

    @functools.cached_property
    def _requirements(self) -> tuple[str, ...]:
        return tuple(n for n in re.split(r"[\s,]+", self.config.get("SUBMIT_REQUIREMENT_NAMES") or "") if n)

    def transformed(self, attrs: dict[str, Value]) -> classad2.ClassAd:
        """The job as the schedd stores it: the rendered transforms applied in order (a transform whose
        REQUIREMENTS is not true for the job is skipped)."""
        ad = job_ad(attrs)
        for requirements, commands in self._transforms:
            if requirements is not None and requirements.eval(scope=ad) is not True:
                continue
            for command, attr, expr in commands:
                if command == "DEFAULT" and attr in ad:
                    continue
                ad[attr] = expr.eval(scope=ad) if command in ("DEFAULT", "EVALSET") else expr
        return ad

    def requirement_names(self) -> list[str]:
        return list(self._requirements)

    def decide(self, attrs: dict[str, Value]) -> tuple[bool | None, str]:
        """(accepted, reason) as the schedd decides; accepted is None if a requirement is not boolean."""
        accepted, reason = self._requirements_met(self.transformed(attrs))
        key = _key(attrs)
        if key is not None:
            self._accepted[key] = accepted
        return accepted, reason

    def accepts(self, attrs: dict[str, Value]) -> tuple[bool | None, classad2.ClassAd]:
        """decide()'s verdict without its reason, and the transformed job. The requirements, as long as the
        site's list of OSes, are evaluated once for equal jobs (several checks submit the same sample job);
        only the verdict is kept (a refusal's reason lists the OSes: one per job made memory quadratic)."""
        job = self.transformed(attrs)
        key = _key(attrs)
        if key is None or key not in self._accepted:
            accepted, _ = self._requirements_met(job)
            if key is not None:
                self._accepted[key] = accepted
        return self._accepted[key] if key is not None else accepted, job

    def _requirements_met(self, job: classad2.ClassAd) -> tuple[bool | None, str]:
        schedd = classad2.ClassAd()
        for name in self._requirements:
            expr = self.exprs.get(f"SUBMIT_REQUIREMENT_{name}".upper())
            if expr is None:
                continue
            result = expr.eval(scope=schedd, target=job)
            if not isinstance(result, bool):
                return None, f"{name} evaluated to {result!r}"
            if result is False:
                reason_expr = self.exprs.get(f"SUBMIT_REQUIREMENT_{name}_REASON".upper())
                reason = reason_expr.eval(scope=schedd, target=job) if reason_expr is not None else ""
                return False, reason if isinstance(reason, str) else repr(reason)
        return True, ""
