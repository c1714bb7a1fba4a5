"""The outcome of validation: how many roles HTCondor's parser loaded, how many checks were evaluated,
and every diagnostic, by severity."""

from __future__ import annotations

import dataclasses

from confgen.diagnostics import Diagnostic


@dataclasses.dataclass
class Report:
    """What `confgen check` found."""

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
