"""Generated sites with extra_config: every selector kind, varied real knobs and values, and the value
each role must read (derived from the selector rule: the narrowest selector that covers a role wins)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from confgen.render import htcondor_roles, render_site
from confgen.validate.parser import assignments
from tests.conftest import site_from_text
from tests.generate import dump, make_site

#: (knob, kind, values): real HTCondor knobs of every type; `expr` values are ClassAd expressions.
POOL: list[tuple[str, str, list[Any]]] = [
    ("MOUNT_UNDER_SCRATCH", "expr", ['"/tmp,/var/tmp,/scratch"', '"/tmp"', '"/var/tmp,/local/scratch"']),
    ("SYSTEM_PERIODIC_REMOVE", "expr", ["NumJobStarts > 10", "JobRunCount > 3", "(time() - QDate) > 86400 * 30"]),
    ("SYSTEM_PERIODIC_HOLD", "expr", ["ImageSize > 8000000", "NumShadowStarts > 20"]),
    ("USE_PID_NAMESPACES", "bool", [True, False]),
    ("NEGOTIATOR_DEPTH_FIRST", "bool", [True, False]),
    ("MAX_JOBS_RUNNING", "int", [500, 12000]),
    ("PRIORITY_HALFLIFE", "int", [3600, 86400]),
    ("BASE_CGROUP", "string", ["htcondor", "system.slice/condor"]),
    ("CGROUP_MEMORY_LIMIT_POLICY", "string", ["hard", "soft", "none"]),
    ("USER_JOB_WRAPPER", "string", ["/usr/local/libexec/job-wrapper", "/opt/site/wrap.sh"]),
    ("SCHEDD_DEBUG", "string", ["D_FULLDEBUG", "D_SECURITY D_COMMAND"]),
    ("STARTER_JOB_ENVIRONMENT", "string", ['"SITE_SCRATCH=/scratch LANG=C"', '"TMPDIR=/tmp"']),
]


@dataclasses.dataclass
class ExtraSite:
    raw: dict[str, Any]
    text: str
    #: role -> knob -> the text HTCondor must read there (roles that get no knob are absent)
    expected: dict[str, dict[str, str]]
    #: (selector, knob) -> the value as written in site.yaml
    written: dict[tuple[str, str], Any]


def text_of(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def confgen_knobs(raw: dict[str, Any]) -> set[str]:
    """Knobs the site's own rendering sets in any role: the pool avoids them (confgen would refuse)."""
    return {k.upper() for f in htcondor_roles(render_site(site_from_text(dump(raw)))) if f.is_config for k, _ in assignments(f.text)}


def selector_rank(selector: str, role: str) -> int | None:
    if selector == role and role.startswith("execute-"):
        return 2
    if selector == role or (selector == "execute" and role.startswith("execute-")):
        return 1
    return 0 if selector == "all" else None


def make_extra_site(seed: int) -> ExtraSite:
    rng = random.Random(seed * 7919)
    raw = make_site(seed)
    taken = confgen_knobs(raw)
    pool = [p for p in POOL if p[0] not in taken]
    classes = sorted(raw["node_classes"])
    selectors = ["all", "central-manager", "submit", "execute", f"execute-{rng.choice(classes)}"]
    extra: dict[str, dict[str, Any]] = {}
    for selector in selectors:
        extra[selector] = {}
        for name, _, values in rng.sample(pool, rng.randint(1, 3)):
            written = name.lower() if rng.random() < 0.2 else name  # HTCondor's names ignore case
            if name.upper() not in {k.upper() for k in extra[selector]}:
                extra[selector][written] = rng.choice(values)
    raw["extra_config"] = extra
    roles = ["central-manager", "submit"] + [f"execute-{c}" for c in classes]
    expected: dict[str, dict[str, str]] = {}
    for role in roles:
        best: dict[str, tuple[int, str]] = {}
        for selector, knobs in extra.items():
            rank = selector_rank(selector, role)
            for name, value in knobs.items():
                if rank is not None and (name.upper() not in best or rank > best[name.upper()][0]):
                    best[name.upper()] = (rank, text_of(value))
        if best:
            expected[role] = {k: v for k, (_, v) in best.items()}
    written = {(s, k): v for s, knobs in extra.items() for k, v in knobs.items()}
    return ExtraSite(raw, dump(raw), expected, written)
