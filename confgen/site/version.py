"""The oldest HTCondor release confgen supports, and the refusal of a site whose pool runs an older one.

24.0 (LTS) is the floor: it is the oldest release the rendered roles are proven on (loaded and evaluated
identically with the 24.0, 25.0 and pinned wheels, tests/test_htcondor_series.py). Older ones cannot be
proven the same way: the 23.0 LTS wheel has no htcondor2/classad2 modules (only the v1 `htcondor`, seen
with htcondor 23.0.28), and the only later 23.x wheel is the feature release 23.10. HTCondor's version
history adds that the container scratch directory confgen renders (SINGULARITY_TARGET_DIR, with
STARTER_NESTED_SCRATCH) works from 24.0.14 on (HTCONDOR-3243).
"""

from __future__ import annotations

from collections.abc import Iterator

from confgen.diagnostics import Diagnostic
from confgen.site.model import Site

OLDEST_SUPPORTED = (24, 0)


def version_problems(site: Site) -> Iterator[Diagnostic]:
    if site.htcondor_version < OLDEST_SUPPORTED:
        major, minor = site.htcondor_version
        oldest = f"{OLDEST_SUPPORTED[0]}.{OLDEST_SUPPORTED[1]}"
        yield site.diag(("site", "htcondor_version"),
                        f"HTCondor {major}.{minor} is older than {oldest}, the oldest release confgen supports (the rendered configuration is proven "
                        f"with HTCondor {oldest} and newer; the 23.0 LTS wheel has no htcondor2 parser to prove it with): upgrade the pool "
                        f"to {oldest} LTS (24.0.14 or later) and write htcondor_version: \"{oldest}\" (or the newer release its oldest host runs)")
