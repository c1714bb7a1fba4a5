"""extra_config read by the real `condor_config_val` of the HTCondor release in the chroot.

For generated sites with knobs under every selector kind (all, central-manager, submit, execute,
execute-<class>): each role directory is the LOCAL_CONFIG_DIR under a minimal root config, and
- every knob the role gets is reported by `-v` at confgen's 90-extra.conf and the line confgen wrote it
  on, with the value the narrowest selector gave (nothing later overrides it, HTCondor kept it);
- a knob of another selector is not set by any file of the role;
- HTCondor's own code knows every knob name (the same check as for confgen's knobs);
and confgen's knob table agrees with HTCondor's built-in defaults.
"""

from __future__ import annotations

import re

import pytest

from confgen.render import htcondor_roles, render_site
from confgen.site import knobs
from tests.conftest import site_from_text
from tests.extra_sites import make_extra_site
from tests.pool.chroot import Root, knob_lines
from tests.pool.test_condor_config_val import ROOT_CONFIG, parse_verbose, unknown_knobs

BASE = "/srv/confgen/extra"
SEEDS = (3, 11, 42)


def _raw_values(stdout: str, names: list[str]) -> dict[str, str]:
    values = {}
    for k in names:
        raw = re.search(rf"^ # raw: {re.escape(k)} = (.*)$", stdout, re.MULTILINE | re.IGNORECASE)
        values[k.upper()] = raw.group(1) if raw else ""
    return values


@pytest.mark.parametrize("seed", SEEDS)
def test_condor_config_val_reports_extra_knobs_at_confgens_file_and_line(root: Root, seed: int) -> None:
    case = make_extra_site(seed)
    fragments = htcondor_roles(render_site(site_from_text(case.text)))
    given = sorted({k.upper() for s in case.raw["extra_config"].values() for k in s})
    root.write(f"{BASE}/empty/condor_config", "RELEASE_DIR = /usr\n")
    defaults = _raw_values(root.run("condor_config_val", "-v", *given, env={"CONDOR_CONFIG": f"{BASE}/empty/condor_config"}, check=False).stdout, given)
    for role in sorted({f.role for f in fragments}):
        files = {f.name: f.text for f in fragments if f.role == role}
        directory = f"{BASE}/{seed}/{role}"
        root.install_dir(f"{directory}/config.d", files)
        root.write(f"{directory}/condor_config", ROOT_CONFIG.format(dir=f"{directory}/config.d"))
        env = {"CONDOR_CONFIG": f"{directory}/condor_config"}
        verbose = root.run("condor_config_val", "-v", *given, env=env, check=False)
        reported = parse_verbose(verbose.stdout)
        values = _raw_values(verbose.stdout, given)
        lines = {k.upper(): at for k, at in knob_lines((n, t) for n, t in files.items() if "/" not in n).items()}
        want = case.expected.get(role, {})
        for knob in given:
            if knob in want:
                name, line = lines[knob]
                assert values[knob] == want[knob], (role, knob)
                if reported.get(knob) == "<Default>" and defaults.get(knob, "").lower() == want[knob].lower():
                    continue  # set to HTCondor's own default: the parser keeps the default entry, same value
                assert (name, reported.get(knob)) == ("90-extra.conf", f"{directory}/config.d/90-extra.conf, line {line}"), (role, knob, verbose.stdout)
            else:  # another selector's knob: HTCondor's default or nothing, never a file of this role
                assert f"{directory}/" not in (reported.get(knob) or ""), (role, knob, reported.get(knob))
        if want:
            assert unknown_knobs(root, {k: v for k, v in values.items() if k in want}) == []


def test_the_knob_table_agrees_with_htcondors_defaults(root: Root) -> None:
    """Knobs the table types as expressions, booleans or integers, read by the real condor_config_val."""
    root.write(f"{BASE}/empty/condor_config", "RELEASE_DIR = /usr\n")
    env = {"CONDOR_CONFIG": f"{BASE}/empty/condor_config"}
    sample = ["MOUNT_UNDER_SCRATCH", "USE_PID_NAMESPACES", "MAX_JOBS_RUNNING", "PRIORITY_HALFLIFE", "NEGOTIATOR_DEPTH_FIRST", "STARTER_RLIMIT_AS"]
    verbose = root.run("condor_config_val", "-v", *sample, env=env, check=False)
    reported = parse_verbose(verbose.stdout)
    assert all(reported.get(k) == "<Default>" for k in sample if k != "STARTER_RLIMIT_AS"), verbose.stdout
    scratch = root.run("condor_config_val", "MOUNT_UNDER_SCRATCH", env=env).stdout.strip()
    assert scratch == '"/tmp,/var/tmp"'  # a quoted ClassAd string: the knob is an expression
    assert knobs.lookup("MOUNT_UNDER_SCRATCH").expression  # type: ignore[union-attr]
    for name, kind in (("USE_PID_NAMESPACES", "bool"), ("MAX_JOBS_RUNNING", "int"), ("NEGOTIATOR_DEPTH_FIRST", "bool")):
        value = root.run("condor_config_val", name, env=env).stdout.strip()
        assert knobs.lookup(name).type == kind  # type: ignore[union-attr]
        assert (value.lower() in ("true", "false")) is (kind == "bool"), (name, value)
