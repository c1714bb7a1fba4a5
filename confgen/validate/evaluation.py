"""What validation does with the roles HTCondor's parser loaded: classad2 parses every expression knob,
the security lint reads them, and the checks evaluate them; notes and warnings about the site join the
report. Imported while the parser's child reads the roles (confgen/validate/__init__.py)."""

from __future__ import annotations

import json
from typing import Any

from confgen.diagnostics import Diagnostic
from confgen.render import Fragment, htcondor_roles
from confgen.render.jupyterhub import OPTIONS_FILE, ROLE
from confgen.site.advice import site_warnings
from confgen.site.model import Site
from confgen.validate import extra, parallel
from confgen.validate import hosts as host_kinds
from confgen.validate.checks import class_checks, pool_checks
from confgen.validate.evaluate import ExecuteRole, SubmitRole, parse_all
from confgen.validate.kerberos import kerberos_notes
from confgen.validate.lint import lint
from confgen.validate.newest_images import notes as newest_notes
from confgen.validate.parser import Parsing, RoleConfig
from confgen.validate.reboot_checks import run_reboot_checks
from confgen.validate.report import Report
from confgen.validate.runtime_checks import run_runtime_checks


def evaluate(site: Site, fragments: list[Fragment], label: str, parsing: Parsing) -> Report:
    """The report on the site, once HTCondor's parser (`parsing`) has read its roles."""
    hub_options = next((json.loads(f.text) for f in fragments if (f.role, f.name) == (ROLE, OPTIONS_FILE)), None)
    roles = sorted({f.role for f in htcondor_roles(fragments)})
    configs, problems = parsing.result()
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
        evaluated, failures = _checks(site, configs, execute, submit, hub_options)
        problems += failures
    advice = site_warnings(site) + newest_notes(site) + (kerberos_notes(site, configs) if not any(p.severity == "error" for p in problems) else [])
    return Report(len(configs), len(roles), evaluated, problems + advice)


def _checks(site: Site, configs: dict[str, RoleConfig], execute: dict[str, ExecuteRole], submit: SubmitRole | None,
            hub_options: dict[str, Any] | None) -> tuple[int, list[Diagnostic]]:
    """(checks evaluated, failures): those of each node class in a copy of this process while this one
    evaluates those of the pool (validate/parallel.py); the failures in the order of one after the other."""

    def of_classes() -> tuple[int, list[Diagnostic]]:
        tally = class_checks(site, execute)
        return tally.evaluated, tally.failures

    def of_pool() -> tuple[int, list[Diagnostic]]:
        tally = pool_checks(site, execute, submit, hub_options)
        run_runtime_checks(tally, execute, submit)
        run_reboot_checks(tally, configs, execute, submit)
        return tally.evaluated, tally.failures

    (first, first_failures), (second, second_failures) = parallel.both(of_classes, of_pool)
    return first + second, first_failures + second_failures
