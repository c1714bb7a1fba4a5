"""Validation: HTCondor's parser loads every role, classad2 parses and evaluates the expressions."""

from __future__ import annotations

import dataclasses
import json

from confgen.diagnostics import Diagnostic
from confgen.render import Fragment, htcondor_roles
from confgen.render.jupyterhub import OPTIONS_FILE, ROLE
from confgen.site.advice import site_warnings
from confgen.site.model import Site
from confgen.validate import extra, htcondor_version, wheels
from confgen.validate import hosts as host_kinds
from confgen.validate.checks import run_checks
from confgen.validate.evaluate import ExecuteRole, SubmitRole, parse_all
from confgen.validate.kerberos import kerberos_notes
from confgen.validate.lint import lint
from confgen.validate.newest_images import notes as newest_notes
from confgen.validate.parser import load_roles
from confgen.validate.reboot_checks import run_reboot_checks
from confgen.validate.runtime_checks import run_runtime_checks


@dataclasses.dataclass
class Report:
    roles_loaded: int
    roles_total: int
    checks_evaluated: int
    #: Errors, warnings (printed; problems only with --strict) and notes (printed, never a problem).
    diagnostics: list[Diagnostic]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def notes(self) -> list[Diagnostic]:
        """Everything that is not an error: warnings and notes."""
        return [d for d in self.diagnostics if d.severity != "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        warned = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        return (f"{self.roles_loaded}/{self.roles_total} roles loaded by HTCondor's parser, "
                f"{self.checks_evaluated} checks evaluated, {len(self.errors)} problem(s){warned}")


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
    hub_options = next((json.loads(f.text) for f in fragments if (f.role, f.name) == (ROLE, OPTIONS_FILE)), None)
    roles = sorted({f.role for f in htcondor_roles(fragments)})
    configs, problems = load_roles(fragments, label)
    parsed, parse_problems = parse_all(configs, label)
    problems += parse_problems
    problems += lint(site, configs)
    problems += extra.problems(site, fragments, configs)
    execute = {r: ExecuteRole(configs[r], parsed[r]) for r in configs if r.startswith("execute-")}
    submit = SubmitRole(configs["submit"], parsed["submit"]) if "submit" in configs else None
    evaluated = 0
    if not any(p.severity == "error" for p in problems):
        problems += host_kinds.problems(site, fragments, label)
    if not any(p.severity == "error" for p in problems):
        tally = run_checks(site, execute, submit, hub_options)
        run_runtime_checks(tally, execute, submit)
        run_reboot_checks(tally, configs, execute, submit)
        problems += tally.failures
        evaluated = tally.evaluated
    advice = site_warnings(site) + newest_notes(site) + (kerberos_notes(site, configs) if not any(p.severity == "error" for p in problems) else [])
    return Report(len(configs), len(roles), evaluated, problems + advice)
