"""Warnings: a site that is valid but probably not what the admin meant. Printed with their position,
exit 0; `--strict` makes them errors."""

from __future__ import annotations

from collections.abc import Iterator

from confgen.diagnostics import Diagnostic
from confgen.site.model import Site


def site_warnings(site: Site) -> list[Diagnostic]:
    return sorted([*_classes_without_the_default_os(site), *_login_environment_gaps(site)])


def _classes_without_the_default_os(site: Site) -> Iterator[Diagnostic]:
    """A class that does not offer the default OS never starts a job that names no OS."""
    for cls in site.node_classes:
        if site.default_os in cls.images:
            continue
        raw = site.doc.data["node_classes"][cls.name]
        where = ("node_classes", cls.name, "images") if isinstance(raw, dict) and "images" in raw else ("node_classes", cls.name)
        yield site.diag(where, f"class {cls.name!r} does not offer the default OS {site.default_os!r} (containers.default): a job that "
                        f"names no {site.job_attribute} gets {site.default_os!r} and never starts on this class; add it to the images, "
                        "or leave it out on purpose", severity="warning")


def _login_environment_gaps(site: Site) -> Iterator[Diagnostic]:
    """containers.login_environment works through a hook in the site's images (output/images/): a job
    outside a container, or in an image of its own, does not get the login environment."""
    if not site.login_environment:
        return
    gaps = []
    if not site.all_jobs:
        gaps.append(f"jobs that name no {site.job_attribute} run outside a container (containers.all_jobs is false)")
    if site.user_images is not None:
        gaps.append("jobs in an image of their own (containers.user_images) lack the hook unless their image has it")
    if gaps:
        yield site.diag(("containers", "login_environment"), "batch jobs get the login environment only in the site's images, "
                        f"which install the hook of output/images/: {'; '.join(gaps)}", severity="warning")
