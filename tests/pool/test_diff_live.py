"""`confgen diff --live` against the real condor_config_val of the HTCondor root.

A host "today": the package's root config and 00-security, plus a hand-written fragment, in the
site's config_dir. The diff is computed from a saved dump of it; then the role is deployed (config_dir
replaced by the role's files, as Puppet does with purge) and HTCondor is asked again: every knob the
diff predicted is what HTCondor reads after deployment, and every knob whose value changed is in the
diff. Expectations about what changes come from the site, not from the rendered text.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from confgen.live import parse_dump
from confgen.render import render_site
from tests.conftest import example_text, run_cli, site_from_text
from tests.pool.chroot import Root

LIVE = "/var/lib/confgen-test/live"
CONFIG_DIR = f"{LIVE}/config.d"
OLD = "50-old-hand-written.conf"
OLD_TEXT = "# written by hand before confgen\nUID_DOMAIN = old.example\nMY_SITE_KNOB = 42\nSTART = True\n"
DUMP = ("condor_config_val", "-dump", "-expanded", "-verbose")


def site_text() -> str:
    data = yaml.safe_load(example_text())
    data["site"]["config_dir"] = CONFIG_DIR
    return yaml.safe_dump(data)


def host_today(root: Root) -> dict[str, str]:
    """The host before confgen: the package's root config reading config_dir, 00-security and OLD there."""
    text = root.host("/etc/condor/condor_config").read_text()
    lines = [f"LOCAL_CONFIG_DIR = /usr/share/condor/config.d, {CONFIG_DIR}" if line.startswith("LOCAL_CONFIG_DIR") else line for line in text.split("\n")]
    root.write(f"{LIVE}/condor_config", "\n".join(lines))
    root.install_dir(CONFIG_DIR, {"00-security": root.host("/etc/condor/config.d/00-security").read_text(), OLD: OLD_TEXT})
    return {"CONDOR_CONFIG": f"{LIVE}/condor_config"}


def dump(root: Root, env: dict[str, str]) -> str:
    return root.run(*DUMP, env=env).stdout


def values(text: str) -> dict[str, str]:
    return {k: v.value.strip() for k, v in parse_dump(text).knobs.items()}


@pytest.fixture(scope="module")
def deployed(root: Root, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("live")
    (work / "site.yaml").write_text(site_text())
    site = site_from_text(site_text())
    role = sorted(c.role for c in site.node_classes)[0]
    env = host_today(root)
    today = dump(root, env)
    (work / "host.dump").write_text(today)
    noise = {k for k, v in values(dump(root, env)).items() if values(today).get(k) != v}  # PID and the like
    code, out, err = run_cli("diff", "--live", role, "--site", str(work / "site.yaml"), "--dump", str(work / "host.dump"), "--format", "json")
    assert code == 0, err
    files = {f.name: f.text for f in render_site(site) if f.role == role}
    root.install_dir(CONFIG_DIR, files)  # deployed as Puppet does with recurse and purge
    after = values(dump(root, env))
    return site, role, values(today), after, noise, json.loads(out), work


def test_every_predicted_knob_is_what_htcondor_reads_after_deployment(deployed) -> None:  # type: ignore[no-untyped-def]
    _, _, today, after, noise, diff, _ = deployed
    predicted = {c["name"].upper(): c for c in diff["changes"]}
    changed = {k for k in set(today) | set(after) if today.get(k) != after.get(k)} - noise
    changed -= {"LOCAL_CONFIG_DIR", "LOCAL_CONFIG_FILE"}  # the test host reads another directory than the site names
    assert set(predicted) == changed, (sorted(set(predicted) - changed), sorted(changed - set(predicted)))
    for key, c in predicted.items():
        if "$RANDOM" in (c["after"] or ""):  # drawn when HTCondor reads the file: shown as written
            assert after.get(key, "").isdigit(), (key, after.get(key))
            continue
        assert (c["after"] or "").strip() == after.get(key, ""), (key, c["after"], after.get(key))
        assert (c["before"] or "").strip() == today.get(key, ""), (key, c["before"], today.get(key))


def test_the_groups_follow_the_site(deployed) -> None:  # type: ignore[no-untyped-def]
    site, _, _, _, _, diff, _ = deployed
    by_name = {c["name"].upper(): c for c in diff["changes"]}
    uid = by_name["UID_DOMAIN"]  # set by hand today, taken over by confgen with the site's domain
    assert (uid["group"], uid["kind"], uid["before"], uid["after"]) == ("confgen", "changed", "old.example", site.uid_domain)
    assert uid["today_at"].startswith(f"{CONFIG_DIR}/{OLD}, line 2")
    mine = by_name["MY_SITE_KNOB"]  # only the replaced directory set it: gone
    assert (mine["group"], mine["kind"], mine["after"]) == ("removed", "removed", None)
    accounting = by_name["ACCOUNTING_DOMAIN"]  # HTCondor's default refers to UID_DOMAIN
    assert (accounting["group"], accounting["after"]) == ("consequence", site.uid_domain)
    groups = [c["group"] for c in diff["changes"]]
    assert groups == sorted(groups, key=("confgen", "consequence", "removed").index)  # confgen's knobs first


def test_live_mode_asks_the_hosts_own_condor_config_val(root: Root, deployed, run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The same comparison without --dump: condor_config_val on PATH is the root's, run in the test
    machine (a wrapper script, named as such, stands for running confgen on the host itself)."""
    _, role, _, _, _, _, work = deployed
    shim = work / "bin" / "condor_config_val"
    shim.parent.mkdir(exist_ok=True)
    argv = " ".join(root.command("condor_config_val", env={"CONDOR_CONFIG": f"{LIVE}/condor_config"}))
    shim.write_text(f'#!/bin/sh\n# WRAPPER (test only): the root\'s condor_config_val in the test machine\nexec {argv} "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    code, out, err = run("diff", "--live", role, "--site", str(work / "site.yaml"))
    assert code == 0, err
    assert f"role {role} on " in out and "confgen sets" in out
    # Deployed now: every knob the role sets already has its value, so nothing is left to take over.
    assert "confgen takes over" not in out, out


def test_bad_role_and_missing_dump_are_clear(deployed, run) -> None:  # type: ignore[no-untyped-def]
    _, _, _, _, _, _, work = deployed
    code, _, err = run("diff", "--live", "no-such-role", "--site", str(work / "site.yaml"), "--dump", str(work / "host.dump"))
    assert code == 1 and "'no-such-role' is not a role of this site; name one of: central-manager" in err, err
    code, _, err = run("diff", "--live", "submit", "--site", str(work / "site.yaml"), "--dump", str(work / "nothing.dump"))
    assert code == 1 and "cannot read the dump" in err, err
    empty = work / "empty.dump"
    empty.write_text("hello\n")
    code, _, err = run("diff", "--live", "submit", "--site", str(work / "site.yaml"), "--dump", str(empty))
    assert code == 1 and "holds no knobs" in err, err
    assert Path(work / "site.yaml").exists()
