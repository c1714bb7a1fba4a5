"""What a site.yaml may not say, whatever the schema: text that YAML 1.1 and YAML 1.2 read differently.

confgen reads site.yaml with PyYAML, a YAML 1.1 reader; the YAML language server in editors reads it
as YAML 1.2, and so may the next tool. Where the two differ confgen refuses the file and says what to
write, rather than pick a reading silently: `interactive: no` is the boolean false to PyYAML and the
string "no" to YAML 1.2; `012` is 10 (octal) to one and 12 to the other. The refusals:

- a line break other than LF or CRLF anywhere, comments included (U+0085, U+2028 and U+2029 end a line
  for YAML 1.1, not for YAML 1.2 or an editor: text after one in a comment became a key);
- a plain scalar whose YAML 1.1 reading (PyYAML's, and the 1.1 spec's y/n booleans) differs from its
  YAML 1.2 core-schema reading;
- an explicit tag (`!!str`, `!!map`, `!foo`, `!!python/...`): confgen gives tags no meaning;
- in a string, a control character, a line or paragraph separator or an invisible format character
  (a block scalar's final line break included): every string ends up in a config line or a ClassAd;
- an integer outside the 64-bit range a ClassAd integer holds, and a float that is not finite.
"""

from __future__ import annotations

import datetime
import math
import re
import unicodedata
from typing import Any

import yaml

#: Line breaks of YAML 1.1 that YAML 1.2 (and editors, mostly) do not treat as line breaks.
ODD_LINE_BREAKS = {"\x85": "NEL, next line", "\u2028": "LINE SEPARATOR", "\u2029": "PARAGRAPH SEPARATOR"}
#: At most this many positions of odd line breaks are reported; the rest are counted.
MAX_REPORTED = 20

#: ClassAd integers are 64-bit signed.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

#: Unicode categories refused in strings: control, format (invisible), line and paragraph separators.
REFUSED_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")
#: Those characters as code point ranges (Unicode 15; tests check they cover the running Python's
#: categories). The schema's `text` pattern is built from the same list (text_pattern()).
REFUSED_RANGES = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD),
    (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x2028, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)
_REFUSED = re.compile("[" + "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b != a else "") for a, b in REFUSED_RANGES) + "]")

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_CORE_NULL = re.compile(r"(?:null|Null|NULL|~)?")
_CORE_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_CORE_INT = re.compile(r"[-+]?[0-9]+")
_CORE_OCT = re.compile(r"0o[0-7]+")
_CORE_HEX = re.compile(r"0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_CORE_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_CORE_NAN = re.compile(r"\.(?:nan|NaN|NAN)")
#: The YAML 1.1 spec's booleans that PyYAML reads as strings.
_SPEC_11_BOOL = {"y": True, "Y": True, "n": False, "N": False}


class Special:
    """A YAML 1.1 reading that is no plain value: a merge key (<<) or a value key (=)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag


def core_reading(text: str) -> Any:
    """The value of the plain scalar `text` under the YAML 1.2 core schema."""
    if _CORE_NULL.fullmatch(text):
        return None
    if _CORE_BOOL.fullmatch(text):
        return text.lower() == "true"
    if _CORE_INT.fullmatch(text):
        return int(text, 10)
    if _CORE_OCT.fullmatch(text):
        return int(text[2:], 8)
    if _CORE_HEX.fullmatch(text):
        return int(text[2:], 16)
    if _CORE_FLOAT.fullmatch(text):
        return float(text)
    if _CORE_INF.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _CORE_NAN.fullmatch(text):
        return math.nan
    return text


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _described(value: Any, text: str) -> str:
    if isinstance(value, Special):
        return {"tag:yaml.org,2002:merge": "a merge key", "tag:yaml.org,2002:value": "a 'value' key",
                "tag:yaml.org,2002:timestamp": "a date that does not exist"}.get(value.tag, value.tag)
    if value is None:
        return "null (no value)"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()}"
    return f'the string "{text}"'


def ambiguity(text: str, pyyaml_value: Any) -> str | None:
    """Why the plain scalar `text` (read by PyYAML as `pyyaml_value`) may not be written plain, or None."""
    old = _SPEC_11_BOOL.get(text, pyyaml_value)
    new = core_reading(text)
    if _same(old, new):
        return None
    who = " (the 1.1 spec; PyYAML reads a string)" if text in _SPEC_11_BOOL else ""
    hint = f'write "{text}" (quoted) for the string'
    boolean = old if isinstance(old, bool) else new if isinstance(new, bool) else None
    number = next((v for v in (new, old) if isinstance(v, int | float) and not isinstance(v, bool)), None)
    if boolean is not None:
        hint += f", or {'true' if boolean else 'false'} for the boolean"
    elif number is not None and math.isfinite(number):
        hint += f", or {number!r} for the number"
    return f"{text} is read as {_described(old, text)} by YAML 1.1{who} and as {_described(new, text)} by YAML 1.2; {hint}"


def shown(value: str, limit: int = 60) -> str:
    """`value` as a Python literal, shortened."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + "..."


def text_pattern() -> str:
    """The JSON Schema pattern of a string without refused characters (ECMA-262 with the u flag, and
    Python: a character above U+FFFF is written as itself, which JSON escapes as a surrogate pair)."""
    def one(code: int) -> str:
        return f"\\u{code:04x}" if code < 0x10000 else chr(code)
    return "^[^" + "".join(one(a) + (f"-{one(b)}" if b != a else "") for a, b in REFUSED_RANGES) + "]*$"


def text_problem(value: str, style: str | None) -> str | None:
    """Why the string `value` (a scalar of `style`) cannot be a site value, or None."""
    bad = [m.start() for m in _REFUSED.finditer(value)]
    if not bad:
        return None
    stripped = value.rstrip("\r\n")
    if style in ("|", ">") and bad[0] >= len(stripped) and stripped:
        return (f"read {shown(value)}, which ends with a line break (a '{style}' block keeps its last one); "
                f"write the value on the line of its key: {stripped}")
    i = bad[0]
    ch = value[i]
    name = unicodedata.name(ch, "") or {"\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\t": "TAB"}.get(ch, "a control character")
    return (f"read {shown(value)}, which has {name} (U+{ord(ch):04X}) at character {i + 1}; a value may not contain "
            "control characters, line breaks or invisible format characters (it would break or hide in the "
            "configuration line it goes into); remove it")


def number_problem(value: int | float, text: str) -> str | None:
    """Why the number `value` (written as `text`) cannot reach HTCondor, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        return (f"{text} is outside the range of a ClassAd integer (64 bits: {INT_MIN} .. {INT_MAX}); "
                "write a number in that range")
    if isinstance(value, float) and not math.isfinite(value):
        return f"{text} is read as {value!r}, not a finite number; write a number such as 1.5"
    return None


def odd_line_breaks(text: str) -> list[tuple[int, int, str]]:
    """(line, column, message) of every line break other than LF and CRLF, counting lines by LF."""
    found: list[tuple[int, int, str]] = []
    total = 0
    line, line_start = 1, 0
    for m in re.finditer(r"\n|\r(?!\n)|[\x85\u2028\u2029]", text):
        ch = m.group()
        if ch == "\n":
            line, line_start = line + 1, m.end()
            continue
        total += 1
        if len(found) < MAX_REPORTED:
            col = m.start() - line_start + 1
            if ch == "\r":
                message = ("a carriage return (U+000D) that is not followed by a line feed: YAML reads it as a line "
                           "break, many editors and tools do not; save the file with LF (or CRLF) line ends")
            else:
                message = (f"the character U+{ord(ch):04X} ({ODD_LINE_BREAKS[ch]}) ends a line for YAML 1.1 but not "
                           "for YAML 1.2 or an editor, so text after it (also in a comment) would be read as a new "
                           "line by one and not by another; remove it, or write a real line break (LF)")
            found.append((line, col, message))
    if total > MAX_REPORTED:
        line, col, _ = found[-1]
        found.append((line, col, f"{total - MAX_REPORTED} more such line break(s) after this one; remove them all"))
    return found


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, noting every explicit tag (which it would otherwise apply or ignore)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.explicit_tags: list[tuple[yaml.Mark, str, str]] = []

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        tag = getattr(event, "tag", None)
        if tag is not None and not isinstance(event, yaml.AliasEvent):
            kind = {yaml.MappingStartEvent: "mapping", yaml.SequenceStartEvent: "list"}.get(type(event), "value")
            self.explicit_tags.append((event.start_mark, str(tag), kind))
        return super().compose_node(parent, index)


def tag_message(tag: str, kind: str) -> str:
    if tag.startswith("tag:yaml.org,2002:"):
        tag = "!!" + tag.removeprefix("tag:yaml.org,2002:")
    what = 'write the value without it (quote it, "like this", for a string)' if kind == "value" else f"write the {kind} without it"
    return f"the tag {tag} is not supported (confgen gives tags no meaning, and some make YAML readers construct objects); {what}"


def yaml_hint(message: str, context: yaml.Mark | None, problem: yaml.Mark | None) -> str | None:
    """PyYAML's message for the indentation mistakes admins make, said as what to write instead (the
    original is kept in parentheses)."""
    if problem is None:
        return None
    if "expected <block end>, but found '<block mapping start>'" in message and context is not None:
        return (f"line {problem.line + 1} is indented by {problem.column} space(s), the keys above it in the same mapping by "
                f"{context.column}: indent every key of one mapping equally ({message})")
    if "mapping values are not allowed here" in message:
        return ("a ':' where YAML expected no key: a key indented under a value, or a value that holds ': ' "
                f"(quote such a value, or indent the key like its siblings) ({message})")
    if "expected <block end>, but found '-'" in message and context is not None:
        return (f"a list item '-' at column {problem.column + 1} does not line up with the keys of its mapping (column "
                f"{context.column + 1}): indent the list under its key, or line it up with the other items ({message})")
    return None
