"""Rendering of the per-class policy (GPU jobs only, binds, the extra START clause, slot attributes)
and of the admin switch every execute role carries."""

from __future__ import annotations

from confgen.render.env import RenderBug, classad, knob
from confgen.site.class_policy import parse_clause
from confgen.site.model import NodeClass, Site


def start_gpu(cls: NodeClass) -> str:
    """Strict boolean: the job asks for at least one GPU. A job attribute, so the partitionable slot
    and the dynamic slot carved for the job decide alike."""
    return "((TARGET.RequestGPUs > 0) =?= True)" if cls.only_gpu_jobs else "True"


def start_class(cls: NodeClass) -> str:
    """The class's own START clause in parentheses; the site checks proved it one boolean expression."""
    if cls.start is None:
        return "True"
    tree, why = parse_clause(cls.start)
    if tree is None:
        raise RenderBug(f"unsafe start clause {cls.start!r}: {why}")
    return f"({cls.start})"


def start_switch(site: Site) -> str:
    """Strict boolean: the admin switch is not False (unset, as after a fresh install, starts jobs)."""
    return f"(MY.{knob(site.switch_attribute)} =!= False)"


def attribute_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    return classad(value)


def attributes(cls: NodeClass) -> list[tuple[str, str]]:
    return [(knob(name), attribute_value(value)) for name, value in cls.attributes]


def bind_list(site: Site, cls: NodeClass) -> str:
    """The site's binds, then the class's."""
    return ",".join(b.spec() for b in (*site.binds, *cls.binds))
