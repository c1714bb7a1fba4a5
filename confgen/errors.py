"""Exceptions: failures that stop a run. Problems in the input are Diagnostics, not exceptions."""

from __future__ import annotations

from confgen.diagnostics import Diagnostic


class ConfgenError(Exception):
    """Base of every error confgen raises on purpose."""


class InputError(ConfgenError):
    """The input has problems; `diagnostics` lists every one of them (exit code 1)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(f"{len(diagnostics)} problem(s) in the input")
        self.diagnostics = diagnostics


class OutputError(ConfgenError):
    """Writing the output failed (read-only directory, disk full, a planted symlink); exit code 1."""
