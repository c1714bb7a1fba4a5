"""Host kinds keep each role's meaning, proved with HTCondor's own parser (real `htcondor2`, child process).

For every host kind, every member role and every daemon of that role (COLLECTOR, NEGOTIATOR, HAD,
REPLICATION / SCHEDD, SHADOW / STARTD, STARTER; and MASTER), the kind's directory and the member's own
directory are read as that daemon reads them (`htcondor2.set_subsystem`, so `SUBSYS.` knobs apply).
Every knob the member sets must have the same final value in both, except:

- DAEMON_LIST, which must be the union of the members' lists;
- the master's ALLOW_<level>: the master is shared by every member, so its list must be no wider than the
  member's (it is the narrowest of them);
- a knob drawn when the configuration is read ($RANDOM_INTEGER, $RANDOM_CHOICE: the reboot delay) is compared
  as written, line for line, since two reads give two values.
"""

from __future__ import annotations

from confgen.diagnostics import Diagnostic
from confgen.render import Fragment
from confgen.render.hosts import no_wider, subsystems
from confgen.site.hosts import HostKind
from confgen.site.model import Site
from confgen.validate.parser import RoleConfig, assignments, load_roles

SHARED = "MASTER"
CODE = "hosts"


def problems(site: Site, fragments: list[Fragment], label: str = "output") -> list[Diagnostic]:
    """Every knob a daemon of a member reads differently in the kind's directory, as a Diagnostic."""
    if not site.hosts:
        return []
    wanted: dict[str, set[str]] = {}
    for kind in site.hosts:
        for role in kind.roles:
            daemons = {SHARED, *subsystems(site, role)}
            wanted.setdefault(role, set()).update(daemons)
            wanted.setdefault(kind.name, set()).update(daemons)
    configs, load_problems = load_roles(fragments, label, subsystems={r: tuple(sorted(s)) for r, s in wanted.items()})
    if load_problems:
        return load_problems
    out: list[Diagnostic] = []
    written = _written(fragments)
    for kind in site.hosts:
        out += kind_problems(site, kind, configs, label, written)
    return out


def _written(fragments: list[Fragment]) -> dict[str, dict[str, str]]:
    """role -> knob (upper case) -> its last assignment line as written, for knobs drawn at random when read."""
    out: dict[str, dict[str, str]] = {}
    for frag in fragments:
        if frag.is_config:
            lines = frag.text.split("\n")
            for knob, number in assignments(frag.text):
                out.setdefault(frag.role, {})[knob.upper()] = lines[number - 1]
    return out


def kind_problems(site: Site, kind: HostKind, configs: dict[str, RoleConfig], label: str,
                  written: dict[str, dict[str, str]]) -> list[Diagnostic]:
    out = _daemon_list(kind, configs, label)
    for role in kind.roles:
        for subsys in (SHARED, *subsystems(site, role)):
            mine, combined = configs[f"{role}@{subsys}"], configs[f"{kind.name}@{subsys}"]
            for knob in sorted(mine.origin):
                if knob == "DAEMON_LIST":
                    continue
                line = written.get(role, {}).get(knob, "")
                if "$RANDOM_" in line.upper():
                    same = line == written.get(kind.name, {}).get(knob)
                    problem = None if same else f"is written {written.get(kind.name, {}).get(knob)!r}, not {line!r}"
                else:
                    problem = _compare(knob, subsys, mine.get(knob), combined.get(knob))
                if problem:
                    out.append(_diag(kind, role, subsys, knob, problem, combined, label))
    return out


def _compare(knob: str, subsys: str, alone: str | None, combined: str | None) -> str | None:
    if subsys == SHARED and knob.startswith("ALLOW_"):
        if no_wider(_entries(combined), _entries(alone)):
            return None
        return f"is {combined!r}, wider than {alone!r}"
    if alone == combined:
        return None
    return f"is {combined!r}, not {alone!r}"


def _entries(value: str | None) -> list[str]:
    return [e for e in (value or "").replace(",", " ").split() if e]


def _daemon_list(kind: HostKind, configs: dict[str, RoleConfig], label: str) -> list[Diagnostic]:
    union = {d for role in kind.roles for d in _entries(configs[f"{role}@{SHARED}"].get("DAEMON_LIST"))}
    combined = configs[f"{kind.name}@{SHARED}"]
    got = set(_entries(combined.get("DAEMON_LIST")))
    if got == union:
        return []
    message = (f"DAEMON_LIST runs {', '.join(sorted(got))}; {kind.label} needs exactly the daemons of its roles: "
               f"{', '.join(sorted(union))}")
    return [_at(kind, "DAEMON_LIST", combined, label, message)]


def _diag(kind: HostKind, role: str, subsys: str, knob: str, problem: str, combined: RoleConfig, label: str) -> Diagnostic:
    message = (f"read as the {subsys} of {kind.label}, {knob} {problem} as in output/{role}/ alone: the combination changes "
               f"what this daemon of the role {role} reads. If an extra_config knob of another member causes it, set it as "
               f"<SUBSYS>.{knob.rsplit('.', 1)[-1]} for the daemon that needs it")
    return _at(kind, knob, combined, label, message)


def _at(kind: HostKind, knob: str, combined: RoleConfig, label: str, message: str) -> Diagnostic:
    """At the kind's line that sets the knob (the origin of the unprefixed knob, as the parser read the files)."""
    name, line = combined.origin.get(knob, ("", 0))
    return Diagnostic(f"{label}/{kind.name}/{name}" if name else f"{label}/{kind.name}", line, 1 if line else 0, knob, message, CODE)
