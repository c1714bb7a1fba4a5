"""Semantic checks of `containers.user_images`: prefixes that are absolute, clean paths, and an image
attribute of its own (not the OS attribute, not a site job attribute, not one HTCondor defines)."""

from __future__ import annotations

from collections.abc import Iterator

from confgen.diagnostics import Diagnostic
from confgen.site.model import Site
from confgen.site.semantic import RESERVED_JOB_ATTRIBUTES, path_problem

#: HTCondor's own image attribute, the default of SINGULARITY_IMAGE_EXPR: the one reserved name a
#: site may take for job-named images (ContainerImage follows the same policy without being named).
SINGULARITY_IMAGE = "SingularityImage"
CONTAINER_IMAGE = "ContainerImage"


def user_images_problems(site: Site) -> Iterator[Diagnostic]:
    ui = site.user_images
    if ui is None:
        return
    base = ("containers", "user_images")
    seen: dict[str, int] = {}
    for i, prefix in enumerate(ui.allowed):
        where = (*base, "allowed", i)
        if problem := path_problem(prefix):
            yield site.diag(where, f"allowed prefix {problem}")
            continue
        if "//" in prefix.rstrip("/"):
            yield site.diag(where, f"allowed prefix {prefix!r} contains '//'; write each '/' once")
            continue
        normal = ui.prefixes[i]
        if normal in seen:
            yield site.diag(where, f"allowed prefix {prefix!r} is the same directory as entry {seen[normal]} ({ui.allowed[seen[normal]]!r}); list it once")
        seen.setdefault(normal, i)
    yield from _attribute(site, ui.attribute)


def _attribute(site: Site, name: str) -> Iterator[Diagnostic]:
    where = ("containers", "user_images", "attribute") if "attribute" in site.doc.data["containers"]["user_images"] else ("containers", "user_images")
    if name.lower() == site.job_attribute.lower():
        yield site.diag(where, f"{name!r} is the OS attribute (containers.job_attribute); jobs name an image path in another attribute, such as {SINGULARITY_IMAGE}")
    elif name.lower() == CONTAINER_IMAGE.lower():
        yield site.diag(where, f"{name!r} is what HTCondor's container_image sets, which follows this policy already; name another attribute, such as {SINGULARITY_IMAGE}")
    elif name.lower() != SINGULARITY_IMAGE.lower() and name.lower() in RESERVED_JOB_ATTRIBUTES:
        yield site.diag(where, f"{name!r} is an attribute HTCondor defines itself; name another attribute, such as {SINGULARITY_IMAGE}")
    for attr in site.job_attributes:
        if attr.name.lower() == name.lower():
            yield site.diag(where, f"{name!r} is also a site job attribute (job_attributes.{attr.name}), whose values are checked there; name the image attribute differently")
