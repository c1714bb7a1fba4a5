"""`extra_config`: knobs confgen does not model, per role selector; which role gets which, and the checks
that need only site.yaml (selector, knob name, value). The knobs confgen itself sets are refused after
rendering (confgen/validate/extra.py), and the values go through HTCondor's parser with every role."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import classad2

from confgen.diagnostics import Diagnostic
from confgen.site import knobs, macro_cycles

if TYPE_CHECKING:
    from confgen.site.model import Site

Value = str | int | bool
SECTION = "extra_config"
#: Selectors and how narrow they are: a knob given for a narrower selector wins for the roles it covers.
RANK = {"all": 0, "central-manager": 1, "submit": 1, "execute": 1}
CLASS_RANK = 2
#: Words that start a directive of HTCondor's config language, not an assignment.
DIRECTIVES = frozenset({"INCLUDE", "USE", "IF", "ELIF", "ELSE", "ENDIF", "ERROR", "WARNING"})
#: Knobs that change which files HTCondor reads or who may change its configuration: never from here.
CONFIG_SOURCES = frozenset({"LOCAL_CONFIG_FILE", "LOCAL_CONFIG_DIR", "LOCAL_CONFIG_DIR_EXCLUDE_REGEXP", "REQUIRE_LOCAL_CONFIG_FILE",
                            "USER_CONFIG_FILE", "PERSISTENT_CONFIG_DIR", "RUNTIME_CONFIG_ADMIN"})
CONFIG_SOURCE_PREFIXES = ("SETTABLE_ATTRS_",)
#: Characters a config line cannot hold: each would end the line, or hide in it.
_LINE_BREAKS = "\r\n\x0b\x0c\x85\u2028\u2029"
#: 32- and 64-bit bounds of param_info.in's int and long knobs.
_INT_BOUNDS = {"int": 2**31, "long": 2**63}


@dataclasses.dataclass(frozen=True)
class ExtraKnob:
    """One knob of extra_config, as written under one selector."""

    selector: str
    name: str
    value: Value

    @property
    def path(self) -> tuple[str, str, str]:
        return (SECTION, self.selector, self.name)

    @property
    def text(self) -> str:
        """The value as it goes into the config line: strings as written, true/false, decimal integers."""
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return str(self.value)


def build(raw: dict[str, dict[str, Any]] | None) -> tuple[ExtraKnob, ...]:
    """The knobs of the section, sorted by selector and name (the order of site.yaml does not matter)."""
    return tuple(ExtraKnob(sel, name, value) for sel, knobs_ in sorted((raw or {}).items()) for name, value in sorted(knobs_.items()))


def rank(selector: str, role: str) -> int | None:
    """How narrowly `selector` names `role` (higher is narrower), or None if it does not cover it."""
    if selector == role and selector.startswith("execute-"):
        return CLASS_RANK
    if selector == "all" or selector == role or (selector == "execute" and role.startswith("execute-")):
        return RANK[selector]
    return None


def for_role(site: Site, role: str) -> list[ExtraKnob]:
    """The knobs `role` gets, one per knob name (HTCondor's names ignore case), narrowest selector winning; sorted by name."""
    chosen: dict[str, tuple[int, ExtraKnob]] = {}
    for knob in site.extra_config:
        r = rank(knob.selector, role)
        key = knob.name.upper()
        if r is not None and (key not in chosen or r > chosen[key][0]):
            chosen[key] = (r, knob)
    return [chosen[k][1] for k in sorted(chosen)]


def check(site: Site) -> Iterator[Diagnostic]:
    """Selectors, knob names and values: everything that site.yaml alone decides."""
    selectors = ["all", "central-manager", "submit", "execute"] + [c.role for c in site.node_classes]
    unknown = {sel for sel in (site.doc.data.get(SECTION) or {}) if sel not in selectors}
    for sel in sorted(unknown):
        yield _selector_problem(site, sel, selectors)
    seen: dict[tuple[str, str], str] = {}
    for knob in site.extra_config:
        if knob.selector in unknown:
            continue
        first = seen.setdefault((knob.selector, knob.name.upper()), knob.name)
        if first != knob.name:
            yield site.diag(knob.path, f"{knob.name!r} is the knob {first!r} again (HTCondor's knob names ignore case); write it once", key=True)
            continue
        yield from _name_problems(site, knob)
    if not unknown:
        yield from _cycles(site)


def _cycles(site: Site) -> Iterator[Diagnostic]:
    reported: set[ExtraKnob] = set()
    for role in ["central-manager", "submit"] + [c.role for c in site.node_classes]:
        chosen = for_role(site, role)
        values = {k.name.upper(): k.text for k in chosen}
        for knob in chosen:
            if knob in reported or "$" not in knob.text:
                continue
            if chain := macro_cycles.cycle(knob.name.upper(), values):
                reported.add(knob)
                yield site.diag(knob.path, f"{knob.name} refers to itself through {' -> '.join(chain)} (in the role {role}, with HTCondor's defaults); "
                                "HTCondor's parser would never finish expanding it: refer to another knob or write the value out")


def _selector_problem(site: Site, selector: str, selectors: list[str]) -> Diagnostic:
    where = (SECTION, selector)
    if selector.startswith("execute-"):
        classes = ", ".join(c.name for c in site.node_classes)
        return site.diag(where, f"{selector!r} names the node class {selector.removeprefix('execute-')!r}, which is not in node_classes ({classes}); "
                         f"write one of: {', '.join(selectors)}", key=True)
    return site.diag(where, f"{selector!r} is not a role selector; write one of: {', '.join(selectors)}", key=True)


def _name_problems(site: Site, knob: ExtraKnob) -> Iterator[Diagnostic]:
    upper = knob.name.upper()
    if not knobs.NAME.fullmatch(knob.name):
        yield site.diag(knob.path, f"{knob.name!r} is not a knob name; a knob is letters, digits and '_' (optionally SUBSYS.KNOB)", key=True)
        return
    if upper in DIRECTIVES:
        yield site.diag(knob.path, f"{knob.name!r} is a directive of HTCondor's config language, not a knob; extra_config sets knobs only", key=True)
        return
    if upper.rsplit(".", 1)[-1] in CONFIG_SOURCES or upper.rsplit(".", 1)[-1].startswith(CONFIG_SOURCE_PREFIXES):
        yield site.diag(knob.path, f"{knob.name} changes which configuration HTCondor reads or who may change it; confgen's output must be the whole "
                        "configuration: remove it", key=True)
        return
    info = knobs.lookup(knob.name)
    if info is None:
        close = knobs.close_names(knob.name)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; check the name in HTCondor's manual (configuration macros)"
        yield site.diag(knob.path, f"HTCondor does not know the knob {knob.name!r} (confgen's table: {knobs.source()}){hint}", key=True)
        return
    yield from value_problems(site, knob, info)


def value_problems(site: Site, knob: ExtraKnob, info: knobs.Knob) -> Iterator[Diagnostic]:
    """A value that would not stay on its line, or that HTCondor would not read as this knob's type."""
    if isinstance(knob.value, str):
        if problem := _line_problem(knob.value):
            yield site.diag(knob.path, f"{knob.name}: {problem}")
            return
        if "$" in knob.value:  # macros: checked once HTCondor's parser has expanded them
            return
    if info.type in knobs.TYPED:
        yield from _typed_problems(site, knob, info)
    elif info.expression and isinstance(knob.value, str):
        yield from _expression_problems(site, knob)


def _line_problem(value: str) -> str | None:
    for ch in value:
        if ch in _LINE_BREAKS or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            return f"the value contains {unicodedata.name(ch, repr(ch))}, which would end the config line and start another; write it on one line"
    if value != value.strip():
        return f"the value {value!r} has surrounding white space, which HTCondor drops; write {value.strip()!r}"
    if value.endswith("\\"):
        return f"the value {value!r} ends with a backslash, which joins the next line of the file to it; remove it"
    return None


def parse_problem(text: str) -> str | None:
    """Why classad2 cannot parse `text` as a ClassAd expression (None if it can)."""
    try:
        classad2.ExprTree(text)
    except Exception:  # classad2 raises ClassAdException, a subclass of Exception
        return "does not parse as a ClassAd expression"
    return None


def expression_hint(name: str, text: str) -> str:
    """What to write instead of an unparsable expression: a quoted string when the text looks like one."""
    if not text.startswith('"') and any(ch in text for ch in "/,") and '"' not in text:
        quoted = classad2.quote(text)
        return f"{name} is a ClassAd expression; a string in it is quoted: write '{quoted}' (in YAML: {name}: '{quoted}')"
    return f"{name} is a ClassAd expression (HTCondor's manual); write a valid one, for example TARGET.RequestCpus > 1 or a quoted \"string\""


def _expression_problems(site: Site, knob: ExtraKnob) -> Iterator[Diagnostic]:
    assert isinstance(knob.value, str)
    if knob.value and parse_problem(knob.value):
        yield site.diag(knob.path, f"{knob.value!r} does not parse as a ClassAd expression; {expression_hint(knob.name, knob.value)}")


def _typed_problems(site: Site, knob: ExtraKnob, info: knobs.Knob) -> Iterator[Diagnostic]:
    want = {"bool": "true or false", "int": "an integer", "long": "an integer", "double": "a number"}[info.type]
    value: object = knob.value
    if isinstance(knob.value, str):
        if parse_problem(knob.value):
            yield site.diag(knob.path, f"{knob.value!r} is not {want} nor a ClassAd expression; {knob.name} is a {info.type} knob: write {want}")
            return
        value = classad2.ExprTree(knob.value).eval()
        if isinstance(value, classad2.Value) or not isinstance(value, (bool, int, float, str)):  # Value is an IntEnum
            if info.expression:
                return  # refers to attributes of the ads HTCondor evaluates it against
            yield site.diag(knob.path, f"{knob.value!r} does not evaluate to {want} (HTCondor evaluates {knob.name} with no ad: "
                            f"attribute names are undefined there); {knob.name} is a {info.type} knob: write {want}")
            return
    if isinstance(value, bool) != (info.type == "bool") or not isinstance(value, knobs.TYPED[info.type]):
        yield site.diag(knob.path, f"{knob.text!r} is not {want}; {knob.name} is a {info.type} knob: write {want}")
    elif info.type in _INT_BOUNDS and isinstance(value, int) and not -_INT_BOUNDS[info.type] <= value < _INT_BOUNDS[info.type]:
        yield site.diag(knob.path, f"{value} does not fit {knob.name}, a {info.type} knob ({'32' if info.type == 'int' else '64'}-bit); write a smaller number")
