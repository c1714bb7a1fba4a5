"""The runtime attribute: which job attribute is the job's runtime limit, in which unit, and what a site
may not say about it (two of them, an older `runtime_attribute` key naming another one, no integer)."""

from __future__ import annotations

from collections.abc import Iterator

from confgen.diagnostics import Diagnostic
from confgen.site.model import JobAttribute, Site

#: The older keys that name the runtime attribute (in hours); they stay as aliases.
ALIASES = ("reboots", "jupyterhub")


def runtime_attribute(site: Site) -> JobAttribute | None:
    """The integer job attribute that is the runtime limit (None: the site has none, or it is invalid)."""
    limit = site.runtime_limit
    if limit is None:
        return None
    attr = next((a for a in site.job_attributes if a.name == limit.attribute), None)
    return attr if attr is not None and attr.type == "integer" else None


def runtime_problems(site: Site) -> Iterator[Diagnostic]:
    marked = [a for a in site.job_attributes if a.runtime is not None]
    for extra in marked[1:]:
        yield site.diag(("job_attributes", extra.name, "runtime"),
                        f"{marked[0].name} is already the runtime limit (runtime: {marked[0].runtime}); only one job attribute "
                        f"can be; remove runtime: from {extra.name}", key=True)
    limit = site.runtime_limit
    for section in ALIASES:
        raw = site.doc.data.get(section)
        named = raw.get("runtime_attribute") if isinstance(raw, dict) else None
        if named is None or limit is None:
            continue
        where = (section, "runtime_attribute")
        if named != limit.attribute:
            how = f"marked runtime: {limit.unit}" if limit.declared_at[0] == "job_attributes" else f"named by {limit.declared_at[0]}.runtime_attribute"
            yield site.diag(where, f"{section}.runtime_attribute names {named!r}, but the runtime limit is {limit.attribute!r} ({how}); "
                            f"write runtime_attribute: {limit.attribute}, or remove the key")
    if limit is None:
        return
    attr = next((a for a in site.job_attributes if a.name == limit.attribute), None)
    if attr is None or attr.type != "integer":
        what = "is not an entry of job_attributes" if attr is None else "is a string attribute"
        yield site.diag(limit.declared_at, f"the runtime attribute {limit.attribute!r} {what}; it must be an integer entry of "
                        f"job_attributes, for example {limit.attribute}: {{type: integer, min: 1, max: 48, default: 2, runtime: {limit.unit}}}")
        return
    assert attr.min is not None
    if attr.min < 1:
        yield site.diag(("job_attributes", attr.name, "min"),
                        f"min {attr.min} would let a job ask for a runtime limit of {attr.min} {limit.unit}, and HTCondor would hold it "
                        "as soon as it starts; write min: 1 or more")
