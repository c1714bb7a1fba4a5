"""security.pool_hosts: the hosts from which the daemon identity and users' writes are accepted."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterator

from confgen.diagnostics import Diagnostic
from confgen.site.model import Site

_NUMERIC = re.compile(r"[0-9.]+(/[0-9]+)?")


def is_address(pattern: str) -> bool:
    """An IPv4 address or network rather than a host name pattern."""
    return _NUMERIC.fullmatch(pattern) is not None


def name_matches(pattern: str, host: str) -> bool:
    """Does a host name pattern match `host` as HTCondor matches it (case-insensitive, '*.' a suffix)?"""
    pattern, host = pattern.lower(), host.lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def pool_hosts_problems(site: Site) -> Iterator[Diagnostic]:
    where = ("security", "pool_hosts")
    for i, pattern in enumerate(site.pool_hosts):
        if not is_address(pattern):
            continue
        try:
            ipaddress.IPv4Network(pattern, strict=True)
        except ValueError as exc:
            hint = ""
            if "/" in pattern:
                with contextlib.suppress(ValueError):
                    hint = f"; did you mean {ipaddress.IPv4Network(pattern, strict=False)}?"
            yield site.diag(where + (i,), f"{pattern!r} is not an IPv4 address or network ({exc}){hint}")
    if any(is_address(p) for p in site.pool_hosts):
        return  # a central manager's name may be in one of the networks: only the site knows
    for j, cm in enumerate(site.central_managers):
        if not any(name_matches(p, cm) for p in site.pool_hosts):
            yield site.diag(("site", "central_managers", j),
                            f"central manager {cm!r} is not in security.pool_hosts ({', '.join(site.pool_hosts)}): its daemons would be refused by every role; add it there")
