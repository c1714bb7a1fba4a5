"""Reading site.yaml: bytes -> Python data with the line and column of every key and value.

PyYAML's safe composer builds the node tree (it keeps `start_mark`); this module turns it into plain
data itself so that duplicate keys, alias bombs, over-deep nesting and non-string keys are refused
with a position instead of being silently accepted or crashing the process.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from confgen.diagnostics import Diagnostic

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

    def diag(self, path: PathKey, message: str, *, code: str = "semantic", key: bool = False) -> Diagnostic:
        line, col = self.position(path, key=key)
        return Diagnostic(self.file, line, col, dotted(path), message, code)


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
    try:
        loader = yaml.SafeLoader(text)
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
            return None, [_at(name, mark, "", f"YAML syntax: {message}", "yaml")]
        except yaml.YAMLError as exc:
            return None, [Diagnostic(name, 1, 1, "", f"YAML syntax: {exc}", "yaml")]
        except RecursionError:
            return None, [_at(name, loader.get_mark(), "", f"nested deeper than {MAX_DEPTH} levels", "yaml")]
    finally:
        sys.setrecursionlimit(old_limit)
        loader.dispose()
    if root is None:
        return None, [Diagnostic(name, 1, 1, "", "the file is empty; expected a mapping with the sections site, containers, node_classes", "yaml")]
    doc = Document(name, None, {}, {})
    builder = _Builder(doc)
    try:
        doc.data = builder.build(root, (), 0)
    except _Refused as exc:
        return None, [_at(name, exc.mark, dotted(exc.path), exc.message, "yaml")]
    if builder.problems:
        return None, builder.problems
    return doc, []


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


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Node tree -> plain data, refusing what PyYAML would accept silently."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0
        self.problems: list[Diagnostic] = []
        self.scalars = yaml.SafeLoader("")

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
        try:
            return self.scalars.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise _Refused(node.start_mark, f"cannot read this value: {getattr(exc, 'problem', exc)}", path) from None
        except (ValueError, OverflowError) as exc:
            raise _Refused(node.start_mark, f"cannot read this value: {exc}", path) from None

    def _mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused(key_node.start_mark, "merge keys (<<) are not supported; write the keys out", path)
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
                line, col = _pos(key_node)
                self.problems.append(Diagnostic(self.doc.file, line, col, dotted(path), f"key {shown!r} is not a string; quote it", "yaml"))
                continue
            key = str(key_node.value)
            here = _pos(key_node)
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

