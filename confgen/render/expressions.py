"""ClassAd expressions confgen generates, as text. Pure functions of the Site; each yields a strict boolean
where HTCondor needs one (`=?=`, `=!=`, `isUndefined`, `identicalMember` never give Undefined)."""

from __future__ import annotations

from confgen.render.env import classad, classad_list
from confgen.site.model import JobAttribute, NodeClass, Site
from confgen.site.semantic import duration_seconds

#: Deepest ifThenElse nesting the ClassAd parser accepts from HTCondor 25.13 on (166 fails); older
#: releases accept 999. A pool upgrades, so the smaller limit holds for every site.
MAX_CHAIN_DEPTH = 165

#: Slot attributes confgen publishes.
OFFERED = "SiteOfferedOS"
NODE_CLASS = "SiteNodeClass"


def record(entries: dict[str, str]) -> str:
    """A ClassAd record literal, name -> expression text; names are quoted ('name'), so an OS named like a
    reserved word (True, Error, Parent) is still an attribute. Lookup in it ignores case."""
    return "[" + "; ".join(f"'{name}' = {expr}" for name, expr in entries.items()) + "]"


def os_member(ref: str, names: list[str] | tuple[str, ...], listed: str | None = None) -> str:
    """`ref` is exactly one of `names` (case-sensitive, strict boolean). A list is scanned name by name,
    so beyond MAX_CHAIN_DEPTH names a constant-cost record lookup is used instead: the record ignores
    case, `is` then compares the name found with the job's exactly. `listed` is an attribute holding
    the same names as a list, used by the scan."""
    if len(names) <= MAX_CHAIN_DEPTH:
        return f"identicalMember({ref}, {listed or classad_list(list(names))})"
    return f"(isString({ref}) && (({record({name: classad(name) for name in names})}[{ref}]) is {ref}))"


def image_macro(os_name: str) -> str:
    return f"{os_name.upper()}_DEFAULT_IMAGE"


def uses_chain(cls: NodeClass) -> bool:
    return len(cls.images) <= MAX_CHAIN_DEPTH


def image_chain(site: Site, cls: NodeClass) -> list[str]:
    """The seed's redefinition chain: CHOSEN_IMAGE starts at the default, each OS wraps it once."""
    attr = f"TARGET.{site.job_attribute}"
    lines = [f'"$({image_macro(site.default_os)})"']
    for os_name in cls.images:
        lines.append(f'ifThenElse({attr} is {classad(os_name)}, "$({image_macro(os_name)})", $(CHOSEN_IMAGE))')
    return lines


def image_record(site: Site, cls: NodeClass) -> str:
    """Constant-depth form for classes offering more OSes than the parser nests: a record lookup.

    Record lookup ignores case; the site checks refuse OS names equal but for case, and START and
    the submit requirement compare names case-sensitively, so no job gets an image it did not name."""
    entries = record({os_name: f'"$({image_macro(os_name)})"' for os_name in cls.images})
    return f'({entries}[TARGET.{site.job_attribute}]) ?: "$({image_macro(site.default_os)})"'


def singularity_job(site: Site) -> str:
    if site.all_jobs:
        return "True"
    return f"!isUndefined(TARGET.{site.job_attribute})"


def bind_list(site: Site) -> str:
    return ",".join(b.spec() for b in site.binds)


def start_os(site: Site, cls: NodeClass) -> str:
    attr = f"TARGET.{site.job_attribute}"
    named = os_member(attr, cls.images, f"MY.{OFFERED}")
    if site.default_os in cls.images:
        return f"(isUndefined({attr}) || {named})"
    return f"({named})"


def start_interactive(cls: NodeClass) -> str:
    return {"only": "(TARGET.InteractiveJob =?= True)", "never": "(TARGET.InteractiveJob =!= True)"}.get(cls.interactive, "True")


def start_health(site: Site) -> str:
    if site.health_script is None:
        return "True"
    names = site.health_names
    healthy = f"(MY.{names.healthy} =?= True)"
    if names.interactive is None:
        return f"({healthy})"
    return f"({healthy} && ((TARGET.InteractiveJob =!= True) || (MY.{names.interactive} =?= True)))"


def period(text: str) -> str:
    seconds = duration_seconds(text)
    assert seconds is not None
    return f"{seconds}s"


# --- submit side ------------------------------------------------------------------------------

def shown(ref: str) -> str:
    """The job's value of `ref` as text for a refusal reason: "quoted" if a string, else as written.

    Not unparse(TARGET.X): unparse takes an attribute of the ad in scope and gives "" for a TARGET
    reference, so the reason would show no value at all.
    """
    return f'ifThenElse(isString({ref}), strcat("\\"", {ref}, "\\""), ifThenElse(isUndefined({ref}), "no value", string({ref})))'


def requirement_os(site: Site) -> tuple[str, str]:
    attr = f"TARGET.{site.job_attribute}"
    offered = site.offered_anywhere()
    expr = f"(isUndefined({attr}) || {os_member(attr, offered)})"
    reason = (f'strcat("{site.job_attribute} = ", {shown(attr)}, '
              f'{classad(" is not an OS of this pool; set " + site.job_attribute + " to one of: " + ", ".join(offered) + " (names are case-sensitive)")})')
    return expr, reason


def requirement_blocked(site: Site) -> tuple[str, str]:
    expr = f"(member(TARGET.Owner, {classad_list(site.blocked_users)}) =!= True)"
    reason = classad("Submission refused by the site policy security.blocked_users: this account may not submit jobs. Contact the pool administrators.")
    return expr, reason


def requirement_attribute(attr: JobAttribute) -> tuple[str, str]:
    ref = f"TARGET.{attr.name}"
    if attr.type == "string":
        expr = f"identicalMember({ref}, {classad_list(attr.values)})"
        allowed = "one of: " + ", ".join(attr.values)
    else:
        expr = f"(isInteger({ref}) && {ref} >= {attr.min} && {ref} <= {attr.max})"
        allowed = f"an integer from {attr.min} to {attr.max}"
    reason = f'strcat({classad(attr.name + " must be " + allowed + "; this job has ")}, {shown(ref)})'
    return expr, reason


def requirement_interactive_max(attr: JobAttribute) -> tuple[str, str]:
    ref = f"TARGET.{attr.name}"
    expr = f"((TARGET.InteractiveJob =!= True) || (isInteger({ref}) && {ref} <= {attr.interactive_max}))"
    reason = f'strcat({classad(f"interactive jobs may ask for at most {attr.name} = {attr.interactive_max}; this job has ")}, {shown(ref)})'
    return expr, reason


def transform_default(attr: JobAttribute) -> str:
    value = classad(attr.default) if attr.type == "string" else str(int(attr.default))
    return f"DEFAULT {attr.name} {value}"
