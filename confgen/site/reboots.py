"""Reboot draining, the site's side: how many nodes of each class condor_defrag may take out of service
at once (`reboots.max_draining`: a count or a share per class), and what a site may not write there.

A count written for a class is taken as the site wrote it, even if it is the whole class. A count or a
share that comes from `default` never takes the last node of a class whose size is known
(`node_classes.<class>.nodes`); a share needs that size. A cap that would silently be 0 (the class's
nodes would never be drained, so never rebooted) is refused: the site writes 0 for the class itself."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from fractions import Fraction

from confgen.diagnostics import Diagnostic
from confgen.site.load import PathKey
from confgen.site.model import NodeClass, Site

#: Without reboots.max_draining: one node per class at a time.
DEFAULT_MAX_DRAINING: int | str = 1
#: Without reboots.down_hours: a node gone for its reboot counts against its class's cap for a day at most.
DEFAULT_DOWN_HOURS = 24


@dataclasses.dataclass(frozen=True)
class DrainCap:
    """The cap of one class: `count` nodes draining or drained at once; `how` says where it came from."""

    node_class: str
    count: int
    how: str
    #: the site.yaml key the cap comes from (for diagnostics)
    where: PathKey


def _spec(site: Site, cls: NodeClass) -> tuple[int | str, bool, PathKey]:
    """(the value, written for this class?, where) of the class's max_draining."""
    raw = (site.reboots or {}).get("max_draining") or {}
    if cls.name in raw:
        return raw[cls.name], True, ("reboots", "max_draining", cls.name)
    if "default" in raw:
        return raw["default"], False, ("reboots", "max_draining", "default")
    return DEFAULT_MAX_DRAINING, False, ("reboots",)


def share(text: str) -> Fraction:
    """'12.5%' -> 1/8."""
    return Fraction(text.rstrip("%")) / 100


def _cap(site: Site, cls: NodeClass) -> tuple[DrainCap | None, str | None]:
    """The class's cap, or why there is none (a problem for the site)."""
    spec, own, where = _spec(site, cls)
    if isinstance(spec, str):
        if cls.nodes is None:
            return None, (f"max_draining {spec} for class {cls.name} is a share of its nodes, but confgen does not know how many it has; "
                          f"write node_classes.{cls.name}.nodes: <count>, or a count for the class (max_draining: {{{cls.name}: 1}})")
        count = int(share(spec) * cls.nodes)  # rounds down: at most the share
        how = f"{spec} of {cls.nodes} nodes"
    else:
        count, how = spec, str(spec)
    if not own and cls.nodes is not None and count >= cls.nodes:
        count, how = cls.nodes - 1, f"{how}, less the last of its {cls.nodes} node(s)"
    if count == 0 and (share(spec) if isinstance(spec, str) else spec) != 0:
        return None, (f"max_draining {spec} leaves class {cls.name} ({cls.nodes} node(s)) nothing to drain, so its nodes would never "
                      f"be rebooted; write {cls.name}: 1 to drain one node at a time (for a class of one node that is all of it), "
                      f"or {cls.name}: 0 to reboot it by hand")
    how += " (written for this class)" if own else (" (default)" if where != ("reboots",) else " (confgen's default)")
    return DrainCap(cls.name, count, how, where), None


def drain_caps(site: Site) -> dict[str, DrainCap]:
    """Node class -> its cap (classes with a problem are left out; semantic checks report them)."""
    caps = {}
    for cls in site.node_classes:
        cap, _ = _cap(site, cls)
        if cap is not None:
            caps[cls.name] = cap
    return caps


def reboot_problems(site: Site) -> Iterator[Diagnostic]:
    if site.reboots is None:
        return
    raw = site.reboots.get("max_draining") or {}
    classes = {c.name for c in site.node_classes}
    for key in raw:
        if key != "default" and key not in classes:
            yield site.diag(("reboots", "max_draining", key), f"there is no node class {key!r}; the classes are: "
                            f"{', '.join(sorted(classes))} (or default)", key=True)
    for cls in site.node_classes:
        _, problem = _cap(site, cls)
        if problem is not None:
            yield site.diag(_spec(site, cls)[2], problem)
