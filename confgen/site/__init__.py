"""Loading a site: YAML with positions -> schema -> Site model -> semantic checks."""

from __future__ import annotations

import os

from confgen.errors import InputError
from confgen.site.bounds import check_bounds
from confgen.site.load import read_document
from confgen.site.model import Site, build_site
from confgen.site.schema import check_schema
from confgen.site.semantic import check_semantics

__all__ = ["Site", "load_site"]


def load_site(path: str | os.PathLike[str], display: str | None = None) -> Site:
    """The validated Site of `path`; raises InputError listing every problem found."""
    doc, problems = read_document(path, display)
    if doc is None:
        raise InputError(problems)
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__ if doc.data is not None else "null"
        raise InputError([doc.diag((), f"the top level is a {kind}; expected a mapping with the sections site, containers, node_classes", code="schema")])
    problems = check_bounds(doc)
    if problems:
        raise InputError(problems)
    problems = check_schema(doc)
    if problems:
        raise InputError(problems)
    site = build_site(doc)
    problems = check_semantics(site)
    if problems:
        raise InputError(problems)
    return site
