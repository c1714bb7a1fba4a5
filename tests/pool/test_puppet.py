"""The Puppet example (examples/puppet/confgen_htcondor) applied for real: Debian's puppet-agent runs
`puppet apply` of it in the test machine, into a scratch host whose HTCondor reads the config
directory Puppet manages, while that host's real condor_master runs.

Checked: HTCondor reads exactly confgen's knobs from the directory after the first apply; a second
apply changes nothing and reconfigures nothing; a changed site changes only the changed files and
triggers exactly one reconfig, seen by the real master; a package's own file in the directory
(Debian's 00-security) is removed, as the README's "Deploy" section says (confgen owns config_dir).
Test-only: the scratch host's root config and one override file outside config_dir (listed below);
the machine's /etc/hosts puts the central managers on another address than this host.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT as REPO_ROOT
from tests.conftest import example_text, run_cli
from tests.pool.chroot import HOSTNAME, Root, knob_lines, wait_for
from tests.pool.test_condor_config_val import parse_verbose

HOST = "/var/lib/confgen-test/puppet-host"
CONFIG_DIR = f"{HOST}/config.d"
OUTPUT = "/var/lib/confgen-test/puppet-output"
MODULES = "/var/lib/confgen-test/puppet-modules"
ROLE = "submit"
ROOT_CONFIG = f"""# NOT SHIPPED: the scratch host's root config (the package's is /etc/condor/condor_config).
RELEASE_DIR = /usr
LOCAL_DIR = {HOST}/local
RUN = $(LOCAL_DIR)/run
LOG = $(LOCAL_DIR)/log
LOCK = $(LOCAL_DIR)/lock
SPOOL = $(LOCAL_DIR)/spool
EXECUTE = $(LOCAL_DIR)/execute
BIN = /usr/bin
SBIN = /usr/sbin
LIB = /usr/lib/condor
LIBEXEC = /usr/libexec/condor
SHARE = /usr/share/condor
LOCAL_CONFIG_DIR = {CONFIG_DIR}, {HOST}/test.d
"""
#: Test-only overrides, read after config_dir: loopback, FS (no KDC here), the shared port of its own.
OVERRIDES = "NETWORK_INTERFACE = 127.0.0.1\nSEC_DEFAULT_AUTHENTICATION_METHODS = FS\nSEC_CLIENT_AUTHENTICATION_METHODS = FS\nSHARED_PORT_PORT = 9648\n"
ENV = {"CONDOR_CONFIG": f"{HOST}/condor_config"}


def manifest(role: str) -> str:
    return (f"class {{ 'confgen_htcondor': role => '{role}', source => 'file://{OUTPUT}/{role}', config_dir => '{CONFIG_DIR}', "
            f"reconfig_environment => ['CONDOR_CONFIG={HOST}/condor_config'] }}")


def apply(root: Root) -> tuple[int, list[str]]:
    """`puppet apply --detailed-exitcodes`: 0 nothing changed, 2 changes; and the resources it changed."""
    proc = root.run("puppet", "apply", "--detailed-exitcodes", "--color=false", "--modulepath", MODULES, "-e", manifest(ROLE),
                    env={"HOME": "/root"}, check=False, timeout=300)
    assert proc.returncode in (0, 2), proc.stdout + proc.stderr
    changed = re.findall(r"^Notice: /Stage\[main\]/Confgen_htcondor/(\S+?): ", proc.stdout, re.M)
    return proc.returncode, changed


def render(root: Root, tmp: Path, text: str) -> dict[str, str]:
    (tmp / "site.yaml").write_text(text)
    out = root.host(OUTPUT)
    code, _, err = run_cli("render", str(tmp / "site.yaml"), "-o", str(out))
    assert code == 0, err
    return {p.relative_to(out / ROLE).as_posix(): p.read_text() for p in sorted((out / ROLE).rglob("*")) if p.is_file()}


def reconfigs(root: Root) -> int:
    log = root.host(f"{HOST}/local/log/MasterLog")
    return len(re.findall(r"Got SIGHUP|Reconfiguring all managed daemons", log.read_text())) if log.exists() else 0


@pytest.fixture(scope="module")
def host(root: Root, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root.kill_all()
    for path in (HOST, OUTPUT, MODULES):
        shutil.rmtree(root.host(path), ignore_errors=True)
    shutil.copytree(REPO_ROOT / "examples" / "puppet" / "confgen_htcondor", root.host(f"{MODULES}/confgen_htcondor"))
    root.write(f"{HOST}/condor_config", ROOT_CONFIG)
    root.write(f"{HOST}/test.d/99-test.conf", OVERRIDES)
    # The package's own config.d file, as a fresh install leaves it.
    root.write(f"{CONFIG_DIR}/00-security", root.host("/etc/condor/config.d/00-security").read_text())
    for sub in ("run", "log", "lock", "spool", "execute"):
        root.host(f"{HOST}/local/{sub}").mkdir(parents=True)
    root.run("chown", "-R", "condor:condor", f"{HOST}/local")
    # This host is not a central manager: the site's central managers resolve to another address (no
    # one listens there), so the master's own condor_reconfig is authorized as on any pool host.
    cms = " ".join(yaml.safe_load(example_text())["site"]["central_managers"])
    root.write("/etc/hosts", f"127.0.0.1 localhost {HOSTNAME}\n127.0.0.2 {cms}\n")
    try:
        yield tmp_path_factory.mktemp("puppet")
    finally:
        root.kill_all()


def test_puppet_ships_the_role_reconfigures_once_per_change_and_owns_the_directory(root: Root, host: Path) -> None:
    files = render(root, host, example_text())
    code, changed = apply(root)
    assert code == 2 and changed, changed
    on_disk = {p.relative_to(root.host(CONFIG_DIR)).as_posix() for p in root.host(CONFIG_DIR).rglob("*") if p.is_file()}
    assert on_disk == set(files)  # exactly the role's files: the package's 00-security was purged
    # HTCondor reads exactly confgen's knobs from the directory: each at confgen's own file and line
    # (HTCondor says <Default> for a value equal to its default), and no knob from another file there.
    expected = knob_lines(files.items())
    shown = parse_verbose(root.run("condor_config_val", "-v", *sorted(expected), env=ENV, check=False).stdout)
    overridden = {line.split(" =")[0] for line in OVERRIDES.splitlines()}
    for knob, (name, line) in expected.items():
        if knob in overridden:
            continue
        assert shown.get(knob.upper()) in (f"{CONFIG_DIR}/{name}, line {line}", "<Default>"), (knob, shown.get(knob.upper()))
    summary = root.run("condor_config_val", "-summary", env=ENV).stdout
    assert set(re.findall(r"^# from " + re.escape(CONFIG_DIR) + r"/(\S+)", summary, re.M)) <= set(files), summary
    root.run("condor_master", env=ENV)
    wait_for("the master's log", lambda: reconfigs(root) == 0 and root.host(f"{HOST}/local/log/MasterLog").exists(), timeout=30)

    code, changed = apply(root)  # nothing changed: nothing done, no reconfig
    assert (code, changed) == (0, []), changed
    assert reconfigs(root) == 0

    data = yaml.safe_load(example_text())
    data["site"]["name"] = data["site"]["name"] + "-renamed"  # one value, so the headers' digest changes too
    before = files
    files = render(root, host, yaml.safe_dump(data))
    differs = {name for name in files if files[name] != before.get(name)}
    code, changed = apply(root)
    assert code == 2
    touched = {re.sub(r"^File\[" + re.escape(CONFIG_DIR) + r"/?(.*)\]/content$", r"\1", c) for c in changed if c.endswith("/content")}
    assert touched == differs, (touched, differs)
    wait_for("one reconfig of the master", lambda: reconfigs(root) == 1, timeout=30)
