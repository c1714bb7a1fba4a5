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
