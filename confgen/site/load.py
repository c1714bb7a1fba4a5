"""Reading site.yaml: bytes -> Python data with the line and column of every key and value.

PyYAML's safe composer builds the node tree (it keeps `start_mark`); this module turns it into plain
data itself so that duplicate keys, alias bombs, over-deep nesting and non-string keys are refused
with a position instead of being silently accepted or crashing the process, and so is what YAML 1.1
and YAML 1.2 read differently, tags, and strings and numbers no config line can hold (scalars.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from confgen.diagnostics import Diagnostic
from confgen.site import scalars

#: Larger files are refused before parsing: a site description is a few kilobytes.
MAX_BYTES = 4 * 1024 * 1024
#: Nodes produced while expanding aliases; a "billion laughs" file exceeds it at once.
MAX_NODES = 200_000
#: Nesting depth of mappings and sequences.
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]


@dataclasses.dataclass
class Document:
    """site.yaml as data, with positions (1-based line, column) of values and of mapping keys."""

    file: str
    data: Any
    values: dict[PathKey, tuple[int, int]]
    keys: dict[PathKey, tuple[int, int]]
    #: The text of plain scalars that are not strings (numbers, booleans), as written.
    literals: dict[PathKey, str] = dataclasses.field(default_factory=dict)
    #: digest(), computed once: every generated file's first line names it (one file per OS image, too).
    _digest: str | None = dataclasses.field(default=None, repr=False, compare=False)

    def digest(self) -> str:
        """The site's content, as 16 hex digits of SHA-256 over its data in canonical JSON (sorted
        keys): comments, layout and key order do not change it, any value does. The data is not
        changed after loading, so it is computed once."""
        if self._digest is None:
            canonical = json.dumps(self.data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
            self._digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
        return self._digest

    def position(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """Position of `path`, or of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def diag(self, path: PathKey, message: str, *, code: str = "semantic", key: bool = False, severity: str = "error") -> Diagnostic:
        line, col = self.position(path, key=key)
        return Diagnostic(self.file, line, col, dotted(path), message, code, severity)


def dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _Refused(Exception):
    def __init__(self, mark: yaml.Mark | None, message: str, path: PathKey = ()) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message
        self.path = path


def read_document(path: str | os.PathLike[str], display: str | None = None) -> tuple[Document | None, list[Diagnostic]]:
    """Read and parse `path`. Returns the document, or None and the reasons it could not be read."""
    name = display if display is not None else os.fspath(path)
    text, problem = _read_text(Path(path), name)
    if problem is not None:
        return None, [problem]
    assert text is not None
    return parse_text(text, name)


def parse_text(text: str, name: str) -> tuple[Document | None, list[Diagnostic]]:
    """Parse YAML text into a Document."""
    if text.startswith("\ufeff"):
        text = text[1:]
    breaks = scalars.odd_line_breaks(text)
    if breaks:
        return None, [Diagnostic(name, line, col, "", message, "yaml") for line, col, message in breaks]
    root = _fast_compose(text)
    if root is not None:
        return _build(name, root)
    try:
        loader = scalars.StrictLoader(text)
    except yaml.reader.ReaderError as exc:  # raised on construction, for a character YAML forbids anywhere
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        shown = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        return None, [Diagnostic(name, line, col, "", f"the character {shown} is not allowed in YAML; remove it", "yaml")]
    old_limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(old_limit, 4 * MAX_DEPTH + 200))
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
            if "'\\t'" in message:
                message += "; indent with spaces, YAML does not allow tabs there"
            message = scalars.yaml_hint(message, exc.context_mark, exc.problem_mark) or message
            return None, [_at(name, mark, "", f"YAML syntax: {message}", "yaml")]
        except yaml.YAMLError as exc:
            return None, [Diagnostic(name, 1, 1, "", f"YAML syntax: {exc}", "yaml")]
        except RecursionError:
            return None, [_at(name, loader.get_mark(), "", f"nested deeper than {MAX_DEPTH} levels", "yaml")]
    finally:
        sys.setrecursionlimit(old_limit)
        loader.dispose()
    if loader.explicit_tags:
        return None, [_at(name, mark, "", scalars.tag_message(tag, kind), "yaml") for mark, tag, kind in loader.explicit_tags]
    if root is None:
        return None, [Diagnostic(name, 1, 1, "", "the file is empty; expected a mapping with the sections site, containers, node_classes", "yaml")]
    return _build(name, root)


def _build(name: str, root: yaml.Node) -> tuple[Document | None, list[Diagnostic]]:
    doc = Document(name, None, {}, {})
    builder = _Builder(doc)
    try:
        doc.data = builder.build(root, (), 0)
    except _Refused as exc:
        return None, [_at(name, exc.mark, dotted(exc.path), exc.message, "yaml")]
    if builder.problems:
        return None, sorted(builder.problems)
    return doc, []


def _fast_compose(text: str) -> yaml.Node | None:
    """The node tree composed by libyaml (PyYAML's C binding, 15x faster than its Python composer), for a
    text where the two cannot differ in what confgen reports; None sends the text to the Python composer,
    which gives every diagnostic. Taken only when: libyaml is there; the text has no `!` (so no tags:
    StrictLoader's hook that notes them cannot run on libyaml) and no `%` (no directives); no character
    the Python reader refuses; nesting too shallow to strain libyaml's recursive composer (a bound from the
    text, before composing); libyaml raises nothing; and the tree nests at most MAX_DEPTH deep. Plain
    scalars get style None, as the Python composer gives them (libyaml: ''). Positions are the same
    (line and column in characters); tests/test_yaml_fast_path.py compares both on every test text."""
    if not getattr(yaml, "__with_libyaml__", False) or "!" in text or "%" in text:
        return None
    if yaml.reader.Reader.NON_PRINTABLE.search(text) or _depth_bound(text) > FAST_DEPTH_BOUND:
        return None
    try:
        loader = yaml.CSafeLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except Exception:  # any refusal is reported by the Python composer, in its words
        return None
    if root is None or not _normalise(root):
        return None
    return root


#: Above this bound on the nesting (from _depth_bound) the text goes to the Python composer unread.
FAST_DEPTH_BOUND = 2000


def _depth_bound(text: str) -> int:
    """An upper bound on how deep `text` nests: every flow bracket, and per line of block structure at
    most one level per column of indentation (two: a list may sit at its key's column) times the
    entries a line may open (`- `, `? `, `: `)."""
    indent, compact = 0, 0
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        indent = max(indent, len(line) - len(stripped))
        compact = max(compact, stripped.count("- ") + stripped.count("? ") + stripped.count(": ") + 1)
    return text.count("[") + text.count("{") + (2 * indent + 2) * (compact + 1)


def _normalise(root: yaml.Node) -> bool:
    """Plain scalars' style to None (libyaml says ''); False if the tree, aliases not followed twice,
    nests deeper than MAX_DEPTH. Iterative, in document order, so a node is first met where it is written."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if depth > MAX_DEPTH:
            return False
        if isinstance(node, yaml.ScalarNode):
            if node.style == "":
                node.style = None
        elif isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                stack += [(value, depth + 1), (key, depth + 1)]
        else:
            stack += [(item, depth + 1) for item in reversed(node.value)]
    return True


def _read_text(path: Path, name: str) -> tuple[str | None, Diagnostic | None]:
    def fail(message: str) -> tuple[None, Diagnostic]:
        return None, Diagnostic(name, 0, 0, "", message, "io")

    try:
        if path.is_dir():
            return fail("is a directory, expected a site.yaml file")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return fail("no such file")
    except OSError as exc:
        return fail(f"cannot read: {exc.strerror or exc}")
    if len(raw) > MAX_BYTES:
        return fail(f"larger than {MAX_BYTES // (1024 * 1024)} MiB; a site description is a few kilobytes")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        return None, Diagnostic(name, line, col, "", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8", "io")


def _at(name: str, mark: yaml.Mark | None, path: str, message: str, code: str) -> Diagnostic:
    if mark is None:
        return Diagnostic(name, 1, 1, path, message, code)
    return Diagnostic(name, mark.line + 1, mark.column + 1, path, message, code)


def _is_sample_value(path: PathKey) -> bool:
    """checks[i].job.<attr>, checks[i].slot.<attr>, checks[i].expect.reason: text a check evaluates."""
    return len(path) == 4 and path[0] == "checks" and (path[2] in ("job", "slot") or path[2:] == ("expect", "reason"))


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Node tree -> plain data, refusing what PyYAML would accept silently."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0
        self.problems: list[Diagnostic] = []
        self.scalars = yaml.SafeLoader("")
        #: (id of a scalar node, sample) -> its value and problem: an alias reuses its anchor's node,
        #: so a long value aliased 300 times is read and scanned once.
        self.read: dict[tuple[int, bool], tuple[Any, str | None]] = {}
        self.refused: set[int] = set()

    def build(self, node: yaml.Node, path: PathKey, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Refused(node.start_mark, f"expands to more than {MAX_NODES} values (an alias bomb?); write the values out", path)
        if depth > MAX_DEPTH:
            raise _Refused(node.start_mark, f"nested deeper than {MAX_DEPTH} levels", path)
        self.doc.values.setdefault(path, _pos(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        sample = _is_sample_value(path)
        if (id(node), sample) not in self.read:
            self.read[id(node), sample] = self._scalar(node, sample=sample)
        value, problem = self.read[id(node), sample]
        if problem is not None and id(node) not in self.refused:
            self.refused.add(id(node))  # reported once, not again for each alias of it
            self._refuse(node, path, problem)
        elif node.style is None and not isinstance(value, str):
            self.doc.literals[path] = str(node.value)
        return value

    def _scalar(self, node: yaml.ScalarNode, *, sample: bool = False) -> tuple[Any, str | None]:
        """The value of a scalar node, and why it is refused (None if it is not). A check's sample
        value is a ClassAd string for the evaluator, never config text: it may hold any character."""
        try:
            value = self.scalars.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            if node.style is not None:  # not reached: a quoted or block scalar is a string
                return None, f"cannot read this value: {getattr(exc, 'problem', exc)}"
            value = scalars.Special(node.tag)  # <<, =, or a date that does not exist
        if node.style is None and (problem := scalars.ambiguity(str(node.value), value)):
            return None, problem
        if isinstance(value, str):
            return value, None if sample else scalars.text_problem(value, node.style)
        if isinstance(value, int | float):
            return value, scalars.number_problem(value, str(node.value))
        return value, None

    def _refuse(self, node: yaml.Node, path: PathKey, message: str) -> None:
        line, col = _pos(node)
        self.problems.append(Diagnostic(self.doc.file, line, col, dotted(path), message, "yaml"))

    def _mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused(key_node.start_mark, "merge keys (<<) are not supported; write the keys out", path)
            if isinstance(key_node, yaml.ScalarNode) and key_node.style is None and key_node.tag != "tag:yaml.org,2002:str":
                # A key YAML 1.1 and 1.2 read differently gets the hint; a number key is refused below.
                key_value, key_problem = self._scalar(key_node)
                if key_problem is not None and not isinstance(key_value, int | float):
                    self._refuse(key_node, path, "key " + key_problem)
                    continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
                line, col = _pos(key_node)
                self.problems.append(Diagnostic(self.doc.file, line, col, dotted(path), f"key {shown!r} is not a string; quote it", "yaml"))
                continue
            key = str(key_node.value)
            here = _pos(key_node)
            if key_node.style is None and (problem := scalars.ambiguity(key, key)):  # y, n, 0o17, 1e3: strings to PyYAML
                self._refuse(key_node, path, "key " + problem)
                continue
            if problem := scalars.text_problem(key, key_node.style):
                self._refuse(key_node, path + (key,), "key " + problem)
                continue
            if key in first_seen:
                line, col = first_seen[key]
                self.problems.append(
                    Diagnostic(self.doc.file, here[0], here[1], dotted(path + (key,)),
                               f"duplicate key {key!r} (first at line {line}, column {col}); keep one", "yaml"))
                continue
            first_seen[key] = here
            self.doc.keys[path + (key,)] = here
            out[key] = self.build(value_node, path + (key,), depth + 1)
        return out

