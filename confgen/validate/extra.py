"""extra_config after rendering: no knob confgen sets for a role, and macro values that still parse.

"confgen sets it" is read from the rendered fragments of each role (parser.assignments), so it follows
the templates; the site.yaml key that owns a knob comes from the fragment that sets it."""

from __future__ import annotations

import re
from collections.abc import Iterator

from confgen.diagnostics import Diagnostic
from confgen.render import Fragment, htcondor_roles
from confgen.render.extra import FILE
from confgen.site import extra_config, knobs
from confgen.site.extra_config import ExtraKnob
from confgen.site.model import Site
from confgen.validate.lint import lint
from confgen.validate.parser import RoleConfig, assignments

#: The site.yaml key behind each of confgen's fragments.
OWNER = {
    "10-pool.conf": "site (name, central_managers, uid_domain)",
    "20-network.conf": "network",
    "30-security.conf": "security",
    "40-central-manager.conf": "site.central_managers",
    "40-slots.conf": "node_classes",
    "45-class-policy.conf": "node_classes.<class>.attributes and admin_switch",
    "50-containers.conf": "containers",
    "50-submit-policy.conf": "job_attributes, containers.job_attribute and containers.user_images",
    "55-runtime-limit.conf": "the runtime: key of a job_attributes entry (the runtime limit)",
    "60-health.conf": "health",
    "60-jupyterhub.conf": "jupyterhub",
    "70-reboots.conf": "reboots",
    "80-start.conf": "node_classes, health and reboots (START is the conjunction of their parts)",
}


def owned(fragments: list[Fragment]) -> dict[str, dict[str, list[str]]]:
    """role -> knob (upper case) -> the fragments of confgen that set it (extra_config's own file aside)."""
    out: dict[str, dict[str, list[str]]] = {}
    for frag in htcondor_roles(fragments):
        if frag.is_config and frag.name != FILE:
            for knob, _ in assignments(frag.text):
                names = out.setdefault(frag.role, {}).setdefault(knob.upper(), [])
                if frag.name not in names:
                    names.append(frag.name)
    return out


def ownership(site: Site, fragments: list[Fragment]) -> dict[ExtraKnob, dict[str, list[str]]]:
    """Knobs of extra_config that confgen itself sets for a role they go to: role -> confgen's fragments setting it."""
    table = owned(fragments)
    found: dict[ExtraKnob, dict[str, list[str]]] = {}
    for role in sorted(table):
        for knob in extra_config.for_role(site, role):
            upper = knob.name.upper()
            setters = table[role].get(upper) or table[role].get(upper.rsplit(".", 1)[-1])
            if setters:
                found.setdefault(knob, {})[role] = setters
    return found


def _owned_diag(site: Site, knob: ExtraKnob, roles: dict[str, list[str]]) -> Diagnostic:
    frags = sorted({f for names in roles.values() for f in names})
    keys = sorted({OWNER.get(f, f"confgen's {f}") for f in frags})
    where = ", ".join(f"output/{role}/{'+'.join(names)}" for role, names in sorted(roles.items()))
    extends = " (confgen extends it there: it cannot be set here)" if knob.name.upper().endswith(("_NAMES", "_ATTRS", "_JOBLIST")) else ""
    return site.diag(knob.path, f"{knob.name} is set by confgen itself ({where}){extends}; it belongs to {'; '.join(keys)} in site.yaml: "
                     f"change it there, or remove {knob.name} from extra_config", key=True)


def expanded(site: Site, configs: dict[str, RoleConfig]) -> Iterator[Diagnostic]:
    """Values with $(MACRO) references, once HTCondor's parser expanded them: expression knobs must still parse."""
    seen: set[ExtraKnob] = set()
    for role, config in sorted(configs.items()):
        for knob in extra_config.for_role(site, role):
            info = knobs.lookup(knob.name)
            if knob in seen or info is None or not info.evaluated or not isinstance(knob.value, str) or "$" not in knob.value:
                continue
            text = config.get(knob.name)
            if text and extra_config.parse_problem(text):
                seen.add(knob)
                yield site.diag(knob.path, f"{knob.value!r} expands to {text!r} in the role {role}, which does not parse as a ClassAd expression; "
                                f"{extra_config.expression_hint(knob.name, text)}")


_LINT = re.compile(r"security lint: (?P<role>[^:]+): (?P<message>.*)")
#: A security knob of extra_config and the words of a lint finding it causes ("for WRITE", "ALLOW_WRITE").
_SEC_KNOB = re.compile(r"(?:\w+\.)?(?:SEC_(?P<level>[A-Z_]+?)_(?P<feature>AUTHENTICATION_METHODS|AUTHENTICATION|ENCRYPTION|INTEGRITY)|(?P<allow>ALLOW_\w+))")
#: How the lint words a finding about each SEC_<level>_<feature> knob.
_FEATURE_WORDS = {"AUTHENTICATION_METHODS": "authentication methods for", "AUTHENTICATION": "authentication for",
                  "ENCRYPTION": "_ENCRYPTION", "INTEGRITY": "_INTEGRITY"}


def _causes(knob: ExtraKnob, message: str) -> bool:
    upper = knob.name.upper()
    if upper.rsplit(".", 1)[-1] in message:
        return True
    m = _SEC_KNOB.fullmatch(upper)
    if m is None:
        return False
    if m.group("allow"):
        return m.group("allow") in message
    if _FEATURE_WORDS[m.group("feature")] not in message:
        return False
    return m.group("level") == "DEFAULT" or f"for {m.group('level')} " in message + " "


def security(site: Site, configs: dict[str, RoleConfig], skip: set[ExtraKnob]) -> Iterator[Diagnostic]:
    """The security lint's findings that an extra_config knob causes, at that knob (the lint itself reports at security)."""
    findings: dict[ExtraKnob, list[str]] = {}
    for diag in lint(site, configs):
        m = _LINT.match(diag.message)
        if m is None:
            continue
        for knob in extra_config.for_role(site, m.group("role")):
            if _causes(knob, m.group("message")):
                findings.setdefault(knob, []).append(f"{m.group('role')}: {m.group('message')}")
    for knob, messages in findings.items():
        if knob in skip:  # already refused as confgen's own knob
            continue
        more = f" (and {len(messages) - 1} more such finding(s))" if len(messages) > 1 else ""
        yield site.diag(knob.path, f"{knob.name} = {knob.text} fails confgen's security lint: {messages[0]}{more}; remove it from extra_config",
                        code="security", key=True)


def problems(site: Site, fragments: list[Fragment], configs: dict[str, RoleConfig]) -> list[Diagnostic]:
    if not site.extra_config:
        return []
    confgens = ownership(site, fragments)
    return [_owned_diag(site, knob, roles) for knob, roles in confgens.items()] + list(expanded(site, configs)) + list(security(site, configs, set(confgens)))
