"""Diagnostic: one problem found in the input, with the place it points at."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable


@dataclasses.dataclass(frozen=True, order=True)
class Diagnostic:
    """A problem, as data. `path` is the dotted path inside site.yaml ("" for the whole file)."""

    file: str
    line: int
    col: int
    path: str
    message: str
    code: str = "semantic"
    severity: str = "error"

    def format(self) -> str:
        """One line, whatever the input held: characters that are not printable are shown escaped."""
        where = f"{self.path}: " if self.path else ""
        place = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        return printable(f"{place}: {self.severity}: {where}{self.message} ({self.code})")

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def later(template: str, *args: object) -> Callable[[], str]:
    """A message formatted only if it is shown (`template.format(*args)`): a check that passes, as nearly
    all do, need not spend the time on showing a job or a list of OSes."""
    return lambda: template.format(*args)


def printable(text: str) -> str:
    """Escape control characters, line and paragraph separators and the like, as Python writes them."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def format_report(diagnostics: Iterable[Diagnostic], fmt: str = "text") -> str:
    items = list(diagnostics)
    if fmt == "json":
        return json.dumps([d.as_dict() for d in items], indent=2, sort_keys=True) + "\n"
    return "".join(d.format() + "\n" for d in items)
