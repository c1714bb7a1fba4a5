"""The jinja2 environment and the filters that put values into config lines.

Every site value passes through exactly one of these filters, chosen by what the knob is:
`raw` for plain-text knobs (paths, host names, lists), `classad` for ClassAd string literals,
`classad_list` for ClassAd lists of strings. Each refuses what would escape its place; the site
checks refuse such values earlier with a position, so a refusal here is a bug in confgen.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import classad2
import jinja2

from confgen.render.precompiled import PrecompiledLoader

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class RenderBug(AssertionError):
    """A value reached a filter that must never see it: the site checks missed it."""


def raw(value: object) -> str:
    """A plain-text config value: one line, no macro syntax, no continuation, no comment start."""
    text = str(value)
    if any(ch in text for ch in "\r\n\0\x0b\x0c\x85\u2028\u2029") or "$" in text or text.endswith("\\"):
        raise RenderBug(f"unsafe raw config value {text!r}")
    if text != text.strip():
        raise RenderBug(f"raw config value with surrounding space {text!r}")
    return text


def verbatim(value: object) -> str:
    """An extra_config value, written as the site wrote it: `$(MACRO)` allowed, but one line, no
    continuation, no surrounding space (site/extra_config.py refuses those with a position)."""
    text = str(value)
    if any(ch in text for ch in "\r\n\0\x0b\x0c\x85\u2028\u2029") or text.endswith("\\") or text != text.strip():
        raise RenderBug(f"unsafe extra_config value {text!r}")
    return text


def classad(value: object) -> str:
    """A ClassAd string literal, quoted by the ClassAd library itself; `$` is refused (macro syntax)."""
    text = str(value)
    if "$" in text or any(ch in text for ch in "\r\n\0"):
        raise RenderBug(f"unsafe ClassAd string {text!r}")
    quoted: str = classad2.quote(text)
    return quoted


def classad_list(values: Iterable[object]) -> str:
    return "{" + ", ".join(classad(v) for v in values) + "}"


def knob(name: object) -> str:
    text = str(name)
    if not _NAME.match(text):
        raise RenderBug(f"unsafe knob name {text!r}")
    return text


@functools.cache
def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=PrecompiledLoader("confgen.render", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        auto_reload=False,  # the templates ship with confgen: no stat() of each file at each use
    )
    env.filters.update(raw=raw, classad=classad, classad_list=classad_list, knob=knob, verbatim=verbatim)
    return env
