"""Every rendered role, read by the real `condor_config_val` of the HTCondor release in the chroot.

For each role of the shipped site and of generated sites (other names, one or two central managers):
the role directory is the LOCAL_CONFIG_DIR under a minimal root config, and
- `condor_config_val -summary` loads it without an error;
- every knob confgen sets is reported by `-v` at confgen's own file and line: the last assignment in
  the directory wins, nothing later overrides it, and HTCondor did not drop it;
- every knob name is one HTCondor knows (a typo such as SINGULARITY_TARGE_DIR is silently ignored by
  HTCondor, so this test is the only place it would show).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest

from confgen.render import Fragment, htcondor_roles, render_site
from tests.conftest import site_from_text
from tests.generate import dump, make_site
from tests.pool.chroot import Root, knob_lines

BASE = "/srv/confgen/ccv"
ROOT_CONFIG = """# Minimal root config for the condor_config_val tests (not shipped).
RELEASE_DIR = /usr
LOCAL_DIR = /var
LOCAL_CONFIG_DIR = {dir}
"""


def site_fragments(text: str) -> dict[str, list[Fragment]]:
    roles: dict[str, list[Fragment]] = {}
    for f in htcondor_roles(render_site(site_from_text(text))):
        roles.setdefault(f.role, []).append(f)
    return roles


SITES = {"shipped": (Path(__file__).resolve().parents[2] / "site.yaml").read_text()}
SITES.update({f"generated-{seed}": dump(make_site(seed)) for seed in (3, 11, 42)})
CASES = [(label, role) for label, text in SITES.items() for role in sorted(site_fragments(text))]


def parse_verbose(stdout: str) -> dict[str, str]:
    """`condor_config_val -v A B …` → {knob: "file, line N" or "<Default>"}."""
    found: dict[str, str] = {}
    current = None
    for line in stdout.split("\n"):
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_.]*)(?: = |\s*@=)", line)
        if m:
            current = m.group(1)
        at = re.match(r"^ # at: (.*)$", line)
        if at and current:
            found[current.upper()] = at.group(1).strip()
            current = None
    return found


@cache
def binary_strings(root_path: str) -> frozenset[str]:
    """Identifier-like strings of HTCondor's binaries and libraries: the knob names its code looks up."""
    root = Path(root_path)
    files = [*root.glob("usr/sbin/condor_*"), *root.glob("usr/bin/condor_*"), *root.glob("usr/lib/libcondor*"), *root.glob("usr/lib/x86_64-linux-gnu/libcondor*"), *root.glob("usr/libexec/condor/*")]
    words: set[str] = set()
    for f in files:
        if f.is_file() and not f.is_symlink():
            words.update(w.decode() for w in re.findall(rb"[A-Za-z0-9_%]{4,}", f.read_bytes()))
    return frozenset(words)


def unknown_knobs(root: Root, knobs: dict[str, str], texts: Iterable[str] = ()) -> list[str]:
    """Names neither HTCondor's param table, nor its code, nor a family it reads, nor a macro confgen uses.
    `texts`, the role's files, also count: a knob inside an `if` that is false on this machine (the
    defrag daemons run on the first central manager only) has no value here."""
    texts = list(texts)
    root.write(f"{BASE}/empty/condor_config", "RELEASE_DIR = /usr\n")
    proc = root.run("condor_config_val", "-v", *sorted(knobs), env={"CONDOR_CONFIG": f"{BASE}/empty/condor_config"}, check=False)
    in_table = {k for k, at in parse_verbose(proc.stdout).items() if at == "<Default>"}
    strings = binary_strings(str(root.path))
    upper = {k.upper(): v for k, v in knobs.items()}
    listed = lambda name: {w.upper() for w in re.split(r"[\s,]+", upper.get(name, "")) if w and not w.startswith("$(")}  # noqa: E731
    cron_jobs = listed("STARTD_CRON_JOBLIST")
    requirements = listed("SUBMIT_REQUIREMENT_NAMES")
    transforms = listed("JOB_TRANSFORM_NAMES")
    holds = listed("SYSTEM_PERIODIC_HOLD_NAMES")
    daemons = listed("DAEMON_LIST") | {w.upper() for t in texts for v in re.findall(r"^DAEMON_LIST = (.*)$", t, re.M) for w in re.split(r"[\s,]+", v) if w and not w.startswith("$(")}
    local_names = {n.upper() for t in texts for n in re.findall(r"-local-name (\w+)", t)}
    attrs = listed("STARTD_ATTRS")
    referenced = {m.upper() for v in [*knobs.values(), *texts] for m in re.findall(r"\$(?:INT|REAL|EVAL)?\(([A-Za-z_][A-Za-z0-9_]*)[),]", v)}
    families = [  # (the template string that must be in HTCondor's code, how a name of the family looks)
        ("%s_CRON_LOG_NON_ZERO_EXIT", lambda k: k == "STARTD_CRON_LOG_NON_ZERO_EXIT"),
        ("MASTER_%s_CONTROLLER", lambda k: (m := re.fullmatch(r"MASTER_(\w+)_CONTROLLER", k)) is not None and m.group(1) in daemons),
        ("SUBMIT_REQUIREMENT_%s_REASON", lambda k: (m := re.fullmatch(r"SUBMIT_REQUIREMENT_(\w+)_REASON", k)) is not None and m.group(1) in requirements),
        ("SUBMIT_REQUIREMENT_%s", lambda k: (m := re.fullmatch(r"SUBMIT_REQUIREMENT_(\w+)", k)) is not None and m.group(1) in requirements),
        ("JOB_TRANSFORM_%s", lambda k: (m := re.fullmatch(r"JOB_TRANSFORM_(\w+)", k)) is not None and m.group(1) in transforms),
        # the schedd builds these names from "SYSTEM_PERIODIC_HOLD" (manual: SYSTEM_PERIODIC_HOLD_NAMES, since 9.7);
        # tests/pool/test_site_vocabulary.py sees a named hold hold a job with its _REASON and _SUBCODE
        ("SYSTEM_PERIODIC_HOLD", lambda k: k == "SYSTEM_PERIODIC_HOLD_NAMES"
         or ((m := re.fullmatch(r"SYSTEM_PERIODIC_HOLD_(\w+?)(_REASON|_SUBCODE)?", k)) is not None and m.group(1) in holds)),
    ]
    cron_params = {"EXECUTABLE", "ARGS", "PERIOD", "MODE", "PREFIX", "ENV", "CWD", "KILL", "RECONFIG", "RECONFIG_RERUN", "CONDITION", "SLOTS", "JOB_LOAD"}

    def in_code(name: str) -> bool:  # the linker may keep a name only as the tail of a longer string
        return name in strings or any(t.endswith(name) for t in strings)

    bad = []
    for knob in sorted(upper):
        subsys, dot, base = knob.rpartition(".")
        if dot and (in_code(subsys) or subsys in local_names) and (base in in_table or in_code(base)):
            continue  # SUBSYS.KNOB or LOCALNAME.KNOB: a knob for one daemon only
        if knob in daemons or (knob.endswith("_ARGS") and knob[:-5] in daemons and "%s_ARGS" in strings):
            continue  # a daemon of DAEMON_LIST (DEFRAG_<CLASS> = $(DEFRAG)) and its arguments
        if knob in in_table or in_code(knob):
            continue
        if any(template in strings and matches(knob) for template, matches in families):
            continue
        m = re.fullmatch(r"STARTD_CRON_(\w+?)_(" + "|".join(sorted(cron_params, key=len, reverse=True)) + ")", knob)
        if m and m.group(1) in cron_jobs and in_code(m.group(2)):
            continue
        if knob in attrs or knob in referenced:  # a slot attribute published through STARTD_ATTRS, or a macro confgen uses
            continue
        bad.append(knob)
    return bad


@pytest.mark.parametrize(("label", "role"), CASES, ids=[f"{label}-{role}" for label, role in CASES])
def test_condor_config_val_reads_every_knob_from_confgens_file(root: Root, label: str, role: str) -> None:
    fragments = site_fragments(SITES[label])[role]
    directory = f"{BASE}/{label}/{role}"
    root.install_dir(f"{directory}/config.d", {f.name: f.text for f in fragments})
    root.write(f"{directory}/condor_config", ROOT_CONFIG.format(dir=f"{directory}/config.d"))
    env = {"CONDOR_CONFIG": f"{directory}/condor_config"}

    summary = root.run("condor_config_val", "-summary", env=env, check=False)
    assert summary.returncode == 0 and "ERROR" not in summary.stderr, summary.stderr
    assert f"# from {directory}/config.d/" in summary.stdout

    expected = knob_lines((f.name, f.text) for f in fragments if "/" not in f.name)
    verbose = root.run("condor_config_val", "-v", *sorted(expected), env=env, check=False)
    reported = parse_verbose(verbose.stdout)
    values = {}
    for k in expected:
        raw = re.search(rf"^ # raw: {re.escape(k)} = (.*)$", verbose.stdout, re.MULTILINE | re.IGNORECASE)
        values[k] = raw.group(1) if raw else ""
    guarded = {k.upper() for f in fragments for k in re.findall(r"^([A-Za-z_][\w.]*) =", _inside_if(f.text), re.M)}
    wrong = {}
    for knob, (name, line) in expected.items():
        got_at = reported.get(knob.upper())
        if knob.upper() in guarded and (got_at is None or got_at.startswith(f"{directory}/config.d/")):
            continue  # inside an `if` false on this machine (defrag runs on the first central manager only): unset, or confgen's earlier line
        ours = f"{directory}/config.d/{name}, line {line}"
        got = reported.get(knob.upper())
        if got == "<Default>" and values[knob].lower() == written_value(fragments, name, line).lower():
            continue  # set to HTCondor's own default: the parser keeps the default entry, same value
        if got != ours:
            wrong[knob] = (got, ours)
    assert not wrong, wrong  # knob -> (where HTCondor says it comes from, where confgen wrote it)
    assert unknown_knobs(root, values, [f.text for f in fragments if "/" not in f.name]) == []


def _inside_if(text: str) -> str:
    """The lines between `if` and `endif` of a config file."""
    return "\n".join(m.group(1) for m in re.finditer(r"^if .*?\n(.*?)^endif", text, re.M | re.S))


def written_value(fragments: list[Fragment], name: str, line: int) -> str:
    text = next(f.text for f in fragments if f.name == name)
    return text.split("\n")[line - 1].split("=", 1)[1].strip()


def test_a_misspelt_knob_is_caught(root: Root) -> None:
    """The check above can fail: a typo HTCondor would silently ignore is reported."""
    values = {"SINGULARITY_TARGET_DIR": "/srv", "SINGULARITY_TARGE_DIR": "/srv", "STARTD_CRON_JOBLIST": "HEALTH", "STARTD_CRON_HEALTH_EXECUTABEL": "/x", "SUBMIT_REQUIREMENTS_NAMES": "A", "ALOW_WRITE": "*"}
    assert unknown_knobs(root, values) == ["ALOW_WRITE", "SINGULARITY_TARGE_DIR", "STARTD_CRON_HEALTH_EXECUTABEL", "SUBMIT_REQUIREMENTS_NAMES"]


def test_a_later_file_overriding_a_knob_is_caught(root: Root) -> None:
    fragments = site_fragments(SITES["shipped"])["submit"]
    directory = f"{BASE}/override/submit"
    files = {f.name: f.text for f in fragments}
    files["99-local.conf"] = "UID_DOMAIN = elsewhere.example\n"
    root.install_dir(f"{directory}/config.d", files)
    root.write(f"{directory}/condor_config", ROOT_CONFIG.format(dir=f"{directory}/config.d"))
    verbose = root.run("condor_config_val", "-v", "UID_DOMAIN", env={"CONDOR_CONFIG": f"{directory}/condor_config"})
    assert parse_verbose(verbose.stdout)["UID_DOMAIN"] == f"{directory}/config.d/99-local.conf, line 1"
