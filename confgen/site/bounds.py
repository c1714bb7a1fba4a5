"""Bounds on the work a site.yaml may ask for, checked on the loaded data before the schema, the
model, rendering or validation look at it.

load.py bounds the file (bytes, YAML values, nesting). Those do not bound the work: aliases repeat
a long string at no cost in the file (one 1.5 MB path aliased 300 times rendered 450 MB per
execute role), and the built-in checks evaluate every OS of a class against expressions that list
every OS of the class. The limits below bound what aliases can expand to, how long one value may
be, how many of each thing a site may have, and the size of the configuration it renders. With
every limit reached at once, `confgen check` stays within a documented time and memory
(bench/bench.py --limits measures it).

Every refusal is one Diagnostic at the place in site.yaml that asks for the work (code "limit"):
what was read, the limit, and what to do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from confgen.diagnostics import Diagnostic
from confgen.site.load import MAX_BYTES, Document, PathKey

#: Characters in one string (a key or a value): PATH_MAX, the longest path Linux resolves.
#: No name, path or word of a site description comes near it.
MAX_STRING = 4096
#: Characters of all keys and strings together once aliases are expanded: no more than a
#: site.yaml without aliases may hold (load.MAX_BYTES).
MAX_TEXT = MAX_BYTES
#: OS images (`containers.images`).
MAX_OS_IMAGES = 5000
#: Node classes (`node_classes`); each renders a role that HTCondor's parser loads.
MAX_NODE_CLASSES = 64
#: OS images offered summed over the node classes (a class without `images:` offers them all):
#: each class renders, and the checks evaluate, every one of its OSes against lists of them all.
MAX_CLASS_IMAGES = 10_000
#: Binds (`containers.binds`).
MAX_BINDS = 1000
#: Job attributes (`job_attributes`); every sample job carries them all.
MAX_JOB_ATTRIBUTES = 20
#: Values of the string job attributes, summed over the attributes (each is a sample job).
MAX_ATTRIBUTE_VALUES = 1000
#: The site's own checks (`checks`); each is evaluated on every node class it names.
MAX_CHECKS = 1000
#: Entries of any other list or mapping (users, central managers, environments, ...).
MAX_ITEMS = 1000
#: Bytes of HTCondor configuration the site renders, estimated before rendering (see
#: `rendered_estimate`); HTCondor's parser and the checks read all of it.
MAX_RENDERED = 32 * 1024 * 1024

#: Estimate: bytes rendered per role besides its OS and bind lists (the largest role of the
#: shipped site is 6 KB), and per OS of a class besides its name and path.
ROLE_BYTES = 16 * 1024
OS_BYTES = 120


@dataclasses.dataclass(frozen=True)
class _Count:
    """A limit on the entries of the collections whose path matches `pattern` ("*" matches any key)."""

    pattern: PathKey
    limit: int
    what: str
    advice: str


_COUNTS = (
    _Count(("containers", "images"), MAX_OS_IMAGES, "OS images",
           "offer fewer images, or split the pool into sites that each render their own configuration"),
    _Count(("node_classes",), MAX_NODE_CLASSES, "node classes",
           "merge classes that differ only in what their machines have (cpus, memory_gb)"),
    _Count(("node_classes", "*", "images"), MAX_OS_IMAGES, "OS images", "list each OS once"),
    _Count(("containers", "binds"), MAX_BINDS, "binds", "bind a common parent directory instead of its entries"),
    _Count(("job_attributes",), MAX_JOB_ATTRIBUTES, "job attributes", "drop attributes the pool does not decide on"),
    _Count(("checks",), MAX_CHECKS, "checks", "keep the checks that test a rule of the site; the built-in ones cover every OS and class"),
)


def check_bounds(doc: Document) -> list[Diagnostic]:
    """Every bound `doc` exceeds, as diagnostics; empty if the work it asks for is within the limits.

    Runs on the data as loaded (before the schema): it looks only at sizes, and at the shapes the
    schema requires where it counts OS images, classes and attribute values. Time and memory are
    linear in the number of YAML values, however long the aliased strings are."""
    sizes: dict[PathKey, int] = {}
    problems = list(_strings(doc, doc.data, (), sizes, set()))
    problems += _text(doc, sizes)
    problems += _counts(doc)
    if not problems:
        problems += _rendered(doc)
    return problems


# --- strings and expanded text ------------------------------------------------------------------

def _strings(doc: Document, value: Any, path: PathKey, sizes: dict[PathKey, int], seen: set[int]) -> Iterator[Diagnostic]:
    """Over-long strings (each distinct one once, where it is first written); fills `sizes` with the
    characters of keys and strings under every collection, aliases expanded."""
    if isinstance(value, str):
        sizes[path] = len(value)
        if len(value) > MAX_STRING and id(value) not in seen:
            seen.add(id(value))
            yield doc.diag(path, f"this value is {len(value):,} characters long; at most {MAX_STRING} are allowed "
                                 f"(PATH_MAX, the longest path Linux resolves): {value[:40]!r}...; shorten it", code="limit")
        return
    total = 0
    if isinstance(value, dict):
        for key, item in value.items():
            if len(key) > MAX_STRING and id(key) not in seen:
                seen.add(id(key))
                yield doc.diag(path + (key,), f"this key is {len(key):,} characters long; at most {MAX_STRING} are allowed: "
                                              f"{key[:40]!r}...; shorten it", code="limit", key=True)
            yield from _strings(doc, item, path + (key,), sizes, seen)
            total += len(key) + sizes.get(path + (key,), 0)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(doc, item, path + (i,), sizes, seen)
            total += sizes.get(path + (i,), 0)
    else:
        return
    sizes[path] = total


def _text(doc: Document, sizes: dict[PathKey, int]) -> list[Diagnostic]:
    """The text after alias expansion, refused at the smallest collection that alone exceeds MAX_TEXT."""
    if sizes.get((), 0) <= MAX_TEXT:
        return []
    path: PathKey = ()
    value = doc.data
    while True:
        keys = list(value) if isinstance(value, dict) else range(len(value)) if isinstance(value, list) else []
        over = [k for k in keys if sizes.get(path + (k,), 0) > MAX_TEXT]
        if not over:
            break
        step = max(over, key=lambda k: sizes[path + (k,)])
        path, value = path + (step,), value[step]
    items = list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, list) else [value]
    repeats: dict[int, int] = {}
    for item in items:
        repeats[id(item)] = repeats.get(id(item), 0) + 1
    most = max(repeats.values(), default=0)
    detail = ""
    if most > 1:
        first = next(i for i, item in enumerate(items) if repeats[id(item)] == most)
        where = path + ((list(value)[first],) if isinstance(value, dict) else (first,) if isinstance(value, list) else ())
        line, _ = doc.position(where)
        detail = f"; the value written at line {line} is used {most} times through aliases"
    return [doc.diag(path, f"expands to {sizes[path]:,} characters of text ({len(items)} entries){detail}; "
                           f"a site may hold at most {MAX_TEXT:,} (4 MiB, as much as site.yaml itself) once aliases are "
                           "expanded; write fewer or shorter values, or alias them less often", code="limit", key=bool(path))]


# --- counts ---------------------------------------------------------------------------------------

def _counts(doc: Document) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    specific: dict[PathKey, _Count] = {}
    for rule in _COUNTS:
        for path in _matches(doc.data, rule.pattern):
            specific[path] = rule
    summed = set(_matches(doc.data, ("job_attributes", "*", "values")))  # limited in all, below
    for path, value in _collections(doc.data, ()):
        found = specific.get(path)
        if found is None and path not in summed and len(value) > MAX_ITEMS:
            problems.append(doc.diag(path, f"has {len(value):,} entries; at most {MAX_ITEMS:,} are allowed in a list or mapping "
                                           "of site.yaml; write fewer", code="limit", key=True))
        elif found is not None and len(value) > found.limit:
            problems.append(doc.diag(path, f"{len(value):,} {found.what}; confgen renders and checks at most {found.limit:,}: {found.advice}",
                                     code="limit", key=True))
    values = [(name, attr["values"]) for name, attr in _mapping(doc.data, "job_attributes").items()
              if isinstance(attr, dict) and isinstance(attr.get("values"), list)]
    total = sum(len(v) for _, v in values)
    if total > MAX_ATTRIBUTE_VALUES:
        name = max(values, key=lambda nv: len(nv[1]))[0]
        problems.append(doc.diag(("job_attributes", name, "values"),
                                 f"the string job attributes have {total:,} values in all (each is a sample job of the checks); "
                                 f"at most {MAX_ATTRIBUTE_VALUES:,} are allowed: use an integer attribute for a range", code="limit", key=True))
    offered = _offered(doc)
    pairs = sum(len(names) for names in offered.values())
    if pairs > MAX_CLASS_IMAGES and not any(p.path.startswith(("containers.images", "node_classes")) for p in problems):
        problems.append(doc.diag(("node_classes",),
                                 f"the {len(offered)} node classes offer {pairs:,} OS images in all (a class without images: offers "
                                 f"all {len(_mapping(doc.data, 'containers', 'images')):,}); each class renders and checks each of its "
                                 f"OSes, at most {MAX_CLASS_IMAGES:,} in all: give classes an images: list, or offer fewer images",
                                 code="limit", key=True))
    return problems


def _collections(value: Any, path: PathKey) -> Iterator[tuple[PathKey, dict[str, Any] | list[Any]]]:
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _collections(item, path + (key,))
    elif isinstance(value, list):
        yield path, value
        for i, item in enumerate(value):
            yield from _collections(item, path + (i,))


def _matches(data: Any, pattern: PathKey) -> Iterator[PathKey]:
    if not pattern:
        yield ()
        return
    head, rest = pattern[0], pattern[1:]
    if not isinstance(data, dict):
        return
    for key in (list(data) if head == "*" else [head] if head in data else []):
        yield from ((key, *tail) for tail in _matches(data[key], rest))


def _mapping(data: Any, *path: str) -> dict[str, Any]:
    """The mapping at `path`, or an empty one where the data has another shape (the schema says so)."""
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _offered(doc: Document) -> dict[str, list[str]]:
    """Node class -> the OS names it offers that are images (a class without `images:` offers all)."""
    images = _mapping(doc.data, "containers", "images")
    out: dict[str, list[str]] = {}
    for name, cls in _mapping(doc.data, "node_classes").items():
        listed = cls.get("images") if isinstance(cls, dict) else None
        names = [n for n in listed if isinstance(n, str) and n in images] if isinstance(listed, list) else list(images)
        out[name] = names
    return out


# --- rendered size --------------------------------------------------------------------------------

def rendered_estimate(doc: Document) -> int:
    """Bytes of HTCondor configuration the site renders, from above: per role a fixed allowance,
    per OS of a class its path, its name four times (image macro, image choice, offered list) and
    OS_BYTES; the bind list on every class; the submit role's lists of OSes, users and values."""
    images = _mapping(doc.data, "containers", "images")
    binds = _mapping(doc.data, "containers").get("binds")
    bind_bytes = sum(_bind_bytes(b) for b in binds) if isinstance(binds, list) else 0
    offered = _offered(doc)
    total = ROLE_BYTES * (2 + len(offered))
    for names in offered.values():
        total += bind_bytes + sum(len(images[n]) if isinstance(images[n], str) else 0 for n in names)
        total += sum(4 * len(n) + OS_BYTES for n in names)
    total += sum(3 * len(n) + 8 for n in images)  # the submit role: accepted OSes, and in the reason
    total += sum(_text_of(_mapping(doc.data, section)) for section in ("security", "job_attributes"))
    return total


def _bind_bytes(bind: Any) -> int:
    if isinstance(bind, dict):
        return sum(len(v) + 1 for v in bind.values() if isinstance(v, str)) + 4
    return len(bind) + 1 if isinstance(bind, str) else 0


def _text_of(value: Any) -> int:
    """Characters of the strings (and keys) under `value`, twice: a value and the reason that names it."""
    if isinstance(value, str):
        return 2 * len(value) + 4
    if isinstance(value, dict):
        return sum(2 * len(k) + _text_of(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(_text_of(v) for v in value)
    return 8


def _rendered(doc: Document) -> list[Diagnostic]:
    estimate = rendered_estimate(doc)
    if estimate <= MAX_RENDERED:
        return []
    offered = _offered(doc)
    pairs = sum(len(v) for v in offered.values())
    return [doc.diag(("node_classes",),
                     f"the {len(offered)} node classes would render about {estimate / 2**20:.0f} MiB of HTCondor configuration "
                     f"({pairs:,} OS images offered in all, each with its path); confgen renders at most {MAX_RENDERED // 2**20} MiB: "
                     "give classes an images: list, shorten the image paths, or offer fewer images", code="limit", key=True)]
