"""`hosts`: host kinds, hosts that take several roles (a central manager that is also an access point).

This module reads the section into HostKind values and checks what site.yaml alone decides: the kind's
name (a new directory of output/), its members (roles of this site, at least two, each once, at most one
execute class) and the extra_config the members would give the one host (one value per knob).
Rendering is confgen/render/hosts.py; the proof that the combination keeps each role's meaning is
confgen/validate/hosts.py."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from confgen.diagnostics import Diagnostic
from confgen.site import extra_config

if TYPE_CHECKING:
    from confgen.site.model import Site

SECTION = "hosts"
KIND_NAME = re.compile(r"[a-z][a-z0-9-]*")
#: Directories of output/ that are not HTCondor roles and cannot be a member.
HUB_ROLE = "jupyterhub"


@dataclasses.dataclass(frozen=True)
class HostKind:
    """One entry of `hosts`: a directory name and the roles (as in output/) it combines, in the order given."""

    name: str
    roles: tuple[str, ...]

    @property
    def path(self) -> tuple[str, str]:
        return (SECTION, self.name)

    @property
    def label(self) -> str:
        """`the host kind cm-and-ap (central-manager + submit)`: how headers and messages name it."""
        return f"the host kind {self.name} ({' + '.join(self.roles)})"


def build(raw: dict[str, Any] | None) -> tuple[HostKind, ...]:
    """The kinds, sorted by name (the order of site.yaml does not matter; the members keep theirs)."""
    return tuple(HostKind(name, tuple(members)) for name, members in sorted((raw or {}).items()))


def htcondor_roles(site: Site) -> list[str]:
    return [r for r in site.roles() if r != HUB_ROLE]


def problems(site: Site) -> Iterator[Diagnostic]:
    """Every problem of the section, each at its place with what to write instead."""
    for kind in site.hosts:
        yield from _name_problems(site, kind)
        member_problems = list(_member_problems(site, kind))
        yield from member_problems
        if not member_problems:
            yield from _extra_conflicts(site, kind)


def _name_problems(site: Site, kind: HostKind) -> Iterator[Diagnostic]:
    if not KIND_NAME.fullmatch(kind.name):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", kind.name.lower()).strip("-") or "cm-and-ap"
        if not suggestion[0].isalpha():
            suggestion = "host-" + suggestion
        yield site.diag(kind.path, f"{kind.name!r} is not a host kind name (it becomes a directory of output/): use lower case "
                                   f"letters, digits and '-', starting with a letter, e.g. {suggestion!r}", key=True)
    elif kind.name in site.roles() or kind.name in ("central-manager", "submit", HUB_ROLE, "images") or kind.name.startswith("execute-"):
        yield site.diag(kind.path, f"{kind.name!r} is already the name of a role directory of output/ (or reserved for one: "
                                   f"central-manager, submit, execute-<class>, jupyterhub, images); name the host kind after what it "
                                   f"combines, e.g. {'-and-'.join(_short(r) for r in kind.roles if isinstance(r, str))!r}", key=True)


def _short(role: str) -> str:
    return {"central-manager": "cm", "submit": "ap"}.get(role, role.removeprefix("execute-"))


def _member_problems(site: Site, kind: HostKind) -> Iterator[Diagnostic]:
    roles = htcondor_roles(site)
    seen: set[str] = set()
    for i, member in enumerate(kind.roles):
        where = (*kind.path, i)
        if member == HUB_ROLE:
            yield site.diag(where, "jupyterhub is not an HTCondor role: its files stay in output/jupyterhub/ (a hub host "
                                   "takes the submit role); list submit here instead")
        elif member not in roles:
            yield site.diag(where, f"{member!r} is not a role of this site; write one of: {', '.join(roles)}")
        elif member in seen:
            yield site.diag(where, f"{member!r} is listed twice; list each role once")
        seen.add(member)
    if len(kind.roles) < 2:
        yield site.diag(kind.path, f"a host kind combines at least two roles; {kind.name!r} lists {len(kind.roles)}: add a role "
                                   "(e.g. [central-manager, submit]), or deploy the one role's own directory output/<role>/ "
                                   "and remove this entry")
    classes = [m for m in dict.fromkeys(kind.roles) if m.startswith("execute-")]
    if len(classes) > 1:
        yield site.diag(kind.path, f"a host runs one startd, so it takes at most one execute class; {kind.name!r} lists "
                                   f"{', '.join(classes)}: keep one of them (a node class with the slots of both is a new "
                                   "entry of node_classes)")


def _extra_conflicts(site: Site, kind: HostKind) -> Iterator[Diagnostic]:
    """The same extra_config knob with different values in two members: the one host can have only one."""
    first: dict[str, tuple[str, extra_config.ExtraKnob]] = {}
    for role in kind.roles:
        for knob in extra_config.for_role(site, role):
            key = knob.name.upper()
            if key not in first:
                first[key] = (role, knob)
                continue
            other_role, other = first[key]
            if other.text != knob.text:
                yield site.diag(knob.path, f"{knob.name} is {knob.text!r} for the role {role} but {other.text!r} for {other_role} "
                                           f"(extra_config.{other.selector}); the host kind {kind.name} takes both roles and "
                                           f"HTCondor reads one value: give both roles the same value, or set "
                                           f"<SUBSYS>.{knob.name} for the one daemon that needs it", key=True)


def merged_extra(site: Site, kind: HostKind) -> list[extra_config.ExtraKnob]:
    """The extra_config knobs of the kind: the union of its members' (problems() refused conflicting values)."""
    chosen: dict[str, extra_config.ExtraKnob] = {}
    for role in kind.roles:
        for knob in extra_config.for_role(site, role):
            chosen.setdefault(knob.name.upper(), knob)
    return [chosen[k] for k in sorted(chosen)]
