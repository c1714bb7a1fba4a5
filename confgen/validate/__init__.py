"""Validation: HTCondor's parser loads every role (validate/parser.py, in a child process), then
validate/evaluation.py lints them and classad2 evaluates the checks. The parser starts first, and the
modules of the checks are imported while it reads the roles."""

from __future__ import annotations

from confgen import wheels
from confgen.render import Fragment
from confgen.site.model import Site
from confgen.validate import htcondor_version, parser
from confgen.validate.report import Report

__all__ = ["Report", "validate"]


def validate(site: Site, fragments: list[Fragment], label: str = "output") -> Report:
    """Load, parse, lint and evaluate; every problem comes back as a Diagnostic. HTCondor's parser is the
    one of the site's release series when its wheel is installed (a note says which one read the roles)."""
    wheel = htcondor_version.choose(site)
    with wheels.parser_uses(wheel):
        report = _validate(site, fragments, label)
    if report.ok:  # a refused site is reported by its errors alone
        report.diagnostics.append(htcondor_version.note(site, wheel))
    return report


def _validate(site: Site, fragments: list[Fragment], label: str) -> Report:
    with parser.start(fragments, label) as parsing:
        from confgen.validate.evaluation import evaluate  # imported while HTCondor's parser reads the roles

        return evaluate(site, fragments, label, parsing)
