"""Macro cycles through extra_config: HTCondor's parser never finishes expanding a knob that refers to
itself through others (`LOCAL_DIR = $(LOG)/x`, while LOG defaults to `$(LOCAL_DIR)/log`)."""

from __future__ import annotations

from confgen.site import knobs


def _edges(name: str, values: dict[str, str]) -> set[str]:
    """The knobs `name` refers to in a role where `values` (upper-case name -> text) are set last."""
    if name not in values:
        return set(knobs.default_references(name))
    refs = knobs.references(values[name])
    if name in refs:  # a knob that refers to itself means its previous value: HTCondor's default here
        refs = (refs - {name}) | set(knobs.default_references(name))
    return refs


def cycle(start: str, values: dict[str, str]) -> list[str] | None:
    """A chain of references from `start` back to itself (start first), or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for ref in sorted(_edges(name, values)):
            if ref == start:
                return path + [start]
            if ref not in seen:
                seen.add(ref)
                stack.append((ref, path + [ref]))
    return None
