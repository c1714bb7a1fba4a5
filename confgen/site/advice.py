"""Warnings: a site that is valid but probably not what the admin meant. Printed with their position,
exit 0; `--strict` makes them errors."""

from __future__ import annotations

from collections.abc import Iterator

from confgen.diagnostics import Diagnostic
from confgen.site.model import Site


def site_warnings(site: Site) -> list[Diagnostic]:
    return sorted(_classes_without_the_default_os(site))


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
