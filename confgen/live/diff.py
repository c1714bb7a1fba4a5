"""What deploying a rendered role changes on a host, knob by knob after expansion.

Today's values come from HTCondor's own dump of the host (dump.py). The values after deployment
come from HTCondor's parser (confgen/validate/parser.py) reading what the host would read then:
every knob as the host sets it today, except those set by files in the site's config_dir (which
Puppet replaces by the role's files: they go back to HTCondor's default), then the role's files.
Knobs are written with their raw text, so a knob that refers to one confgen sets (ACCOUNTING_DOMAIN
= $(UID_DOMAIN)) is expanded again, and HTCondor's defaults and detected values are those of the
host, not of the machine confgen runs on.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from confgen.errors import OutputError
from confgen.live.dump import Dump, Knob
from confgen.render import Fragment
from confgen.validate.parser import knob_names, load_roles

STAGE_ROLE = "confgen-live"
BASELINE_ROLE = "confgen-live-baseline"
ROLE_ONLY = "confgen-live-role"
USE_ONLY = "confgen-live-use"
EMPTY_ROLE = "confgen-live-defaults"
TODAY_FILE = "00-confgen-today.conf"  # read before the role's files, as config_dir comes last
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)\s*=(.*)$")
#: Which files HTCondor reads: the deployment decides, and the parser's own reading must not follow them.
READING = frozenset({"LOCAL_CONFIG_FILE", "LOCAL_CONFIG_DIR", "LOCAL_CONFIG_DIR_EXCLUDE_REGEXP", "REQUIRE_LOCAL_CONFIG_FILE"})
GROUPS = ("confgen", "consequence", "removed")


@dataclasses.dataclass(frozen=True)
class KnobChange:
    name: str
    group: str  # confgen: the role sets it; consequence: it refers to a changed knob; removed: only config_dir set it
    kind: str  # added (HTCondor's default today), changed, removed
    before: str | None
    after: str | None
    today_at: str  # where today's value comes from


@dataclasses.dataclass
class LiveDiff:
    host: str
    role: str
    changes: list[KnobChange]
    same_as_confgen: int  # knobs the role sets to the value they have today

    def group(self, name: str) -> list[KnobChange]:
        return [c for c in self.changes if c.group == name]


def live_diff(dump: Dump, role: str, fragments: list[Fragment], config_dir: str) -> LiveDiff:
    """Two readings by the same parser: the host as it is (baseline) and the host with the role
    deployed (after). What differs between them is the deployment's doing; values HTCondor detects
    on the machine confgen runs on, or draws at random, are the same in both and drop out."""
    role_frags = [f for f in fragments if f.role == role]
    pin = _detected_pin(dump)
    staged = [Fragment(BASELINE_ROLE, TODAY_FILE, pin(today_text(dump, None))),
              Fragment(STAGE_ROLE, TODAY_FILE, pin(today_text(dump, config_dir))),
              Fragment(EMPTY_ROLE, TODAY_FILE, "# HTCondor's defaults alone\n")]
    staged += [Fragment(STAGE_ROLE, f.name, pin(f.text)) for f in role_frags]
    staged += [Fragment(USE_ONLY, f.name, _use_lines(f.text)) for f in role_frags if f.is_config]
    label = f"the configuration of {dump.host or 'the host'} with {role}"
    try:  # first, the name of every knob the role sets, also through `use` lines
        names = knob_names([Fragment(ROLE_ONLY, f.name, f.text) for f in role_frags], label)[ROLE_ONLY]
    except ValueError as exc:
        raise OutputError(f"HTCondor's parser could not read the role {role}: {exc}") from exc
    configs, problems = load_roles(staged, label, also_read=set(dump.knobs) | names)
    if problems or set(configs) != {BASELINE_ROLE, STAGE_ROLE, EMPTY_ROLE, USE_ONLY}:
        raise OutputError("HTCondor's parser could not read the host's configuration with the role: "
                          + "; ".join(p.message for p in problems))
    baseline, after = configs[BASELINE_ROLE].knobs, configs[STAGE_ROLE].knobs
    raw = dict(_raw_values(role_frags))
    # confgen's knobs: those the role's files assign, and those its `use` lines set (FEATURE:...),
    # read from the `use` lines alone against HTCondor's defaults alone.
    used, defaults = configs[USE_ONLY].knobs, configs[EMPTY_ROLE].knobs
    confgen_knobs = set(raw) | {k for k in names if not _same(used.get(k), defaults.get(k)) or (k in used) != (k in defaults)}
    changes: list[KnobChange] = []
    same = 0
    for key in sorted(set(baseline) | set(after)):
        if key.rsplit(".", 1)[-1] in READING:
            continue  # which files are read is the deployment's, not a knob's
        today = dump.knobs.get(key)
        now = after.get(key)
        if "$RANDOM" in raw.get(key, "").upper():  # drawn anew at each reading: compared as written
            now = raw[key]
            unchanged = today is not None and (today.raw or "").strip() == now
        else:
            unchanged = _same(baseline.get(key), now)
        if unchanged:
            same += key in confgen_knobs
            continue
        changes.append(_change(key, today, today.value if today else None, now, key in confgen_knobs, config_dir))
    order = {g: i for i, g in enumerate(GROUPS)}
    changes.sort(key=lambda c: (order[c.group], c.name.upper()))
    return LiveDiff(dump.host, role, changes, same)


def today_text(dump: Dump, config_dir: str | None) -> str:
    """Every knob of the host with its raw text; with `config_dir`, the knobs set there get HTCondor's
    default instead (the deployment replaces those files). A value drawn at random ($RANDOM_INTEGER)
    is written as the host drew it."""
    prefix = config_dir.rstrip("/") + "/" if config_dir else None
    lines = [f"# The configuration of {dump.host or 'the host'} today" + (f", without what {prefix} sets" if prefix else "") + " (confgen diff --live).\n"]
    for key in sorted(dump.knobs):
        knob = dump.knobs[key]
        if key.rsplit(".", 1)[-1] in READING:
            continue
        text = knob.default if prefix and (knob.source_file or "").startswith(prefix) else _as_today(knob)
        if text is not None:
            lines.append(_assignment(knob.name, text))
    return "".join(lines)


def _raw_values(frags: list[Fragment]) -> list[tuple[str, str]]:
    """(KNOB, raw text) of every one-line assignment in the role's files, in reading order."""
    out = []
    for f in sorted(frags, key=lambda f: f.name):
        if f.is_config:
            for line in f.text.split("\n"):
                if (m := _ASSIGN.match(line)) is not None:
                    out.append((m.group(1).upper(), m.group(2).strip()))
    return out


def _detected_pin(dump: Dump) -> Callable[[str], str]:
    """HTCondor detects FULL_HOSTNAME, DETECTED_CPUS and the like itself, whatever a file says: a
    reference to one is replaced by the host's value, so the reading is the host's, not this machine's."""
    detected = {k: v.value for k, v in dump.knobs.items() if v.at == "<Detected>"}
    if not detected:
        return lambda text: text
    pattern = re.compile(r"\$\((" + "|".join(re.escape(k) for k in sorted(detected, key=len, reverse=True)) + r")\)", re.I)
    return lambda text: pattern.sub(lambda m: detected[m.group(1).upper()], text)


def _use_lines(text: str) -> str:
    return "".join(line + "\n" for line in text.split("\n") if re.match(r"^\s*use\s", line, re.I))


def _as_today(knob: Knob) -> str:
    """The raw text, so that references expand again; a value drawn at random as the host drew it."""
    return knob.raw if knob.raw is not None and "$RANDOM" not in knob.raw.upper() else knob.value


def _assignment(name: str, text: str) -> str:
    if "\n" not in text:
        return f"{name} = {text}\n"
    tag = "CONFGEN_END"
    return f"{name} @={tag}\n{text}\n@{tag}\n"


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip() == (b or "").strip()


def _change(key: str, today: Knob | None, before: str | None, after: str | None, by_confgen: bool, config_dir: str) -> KnobChange:
    name = today.name if today else key
    at = today.at if today else "not set today"
    set_by_file = today is not None and today.source_file is not None
    if by_confgen:
        return KnobChange(name, "confgen", "changed" if set_by_file or (today and today.at == "<Detected>") else "added", before, after, at)
    if today is not None and (today.source_file or "").startswith(config_dir.rstrip("/") + "/"):
        return KnobChange(name, "removed", "removed", before, after, at)
    return KnobChange(name, "consequence", "changed", before, after, at)
