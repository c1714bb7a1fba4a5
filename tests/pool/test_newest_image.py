"""The newest daily image on a real execute node: the shipped site with its default OS resolved on the
node (containers.images.<OS>: {path, newest: "20*"}), read by the real condor_config_val and by real
HTCondor 25 daemons in the loopback pool; a real job runs in the newest build, in real Apptainer.

Test-only changes to the shipped site, all in `newest_site_text`: the default OS's image becomes
{path: <its directory>, newest: "20*"}, and site.config_dir is the test instance's config directory
(where Pool installs the role directory, as Puppet does on a node), so the rendered include names the
script where it was shipped. Dated builds are real Apptainer sandboxes (pool.install_images); the
hostile names beside them are plain directories. Expectations come from the Site model."""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import time
from collections.abc import Iterator

import pytest

from confgen.render import newest_images as newest
from confgen.render import render_site
from confgen.site.model import Site
from tests.conftest import ROOT as REPO_ROOT
from tests.conftest import example_text, site_from_text
from tests.pool.chroot import Root, wait_for
from tests.pool.pool import BASE, Pool, install_images, role_files, wait_job
from tests.pool.test_loopback_pool import better_analyze, description, job_output, submit_ok

GLOB = "20*"
OLDER, NEWER, LATER = "20250101", "20260101", "20270101"
HOSTILE = ["20991231\nEVIL = 1", "20990101$(reboot)", '20990103"q', "20990105 space", "20990106#c", "20990107=x",
           "2099" + "9" * 200, "20990108~", "20990113\u00e9"]
EXEC = "exec"  # the Pool's execute instance


def newest_site_text() -> str:
    """The shipped site, with the test-only changes listed in the module docstring."""
    text = example_text()
    plain = site_from_text(text)
    os_name, path = plain.default_os, plain.images[plain.default_os]
    line = re.compile(rf"^(\s+){re.escape(os_name)}: {re.escape(path)}(\s.*)?$", re.M)
    assert line.search(text), f"the shipped site names the image of {os_name} on one line"
    text = line.sub(lambda m: f'{m.group(1)}{os_name}: {{path: {posixpath.dirname(path)}, newest: "{GLOB}"}}', text, count=1)
    assert "\n  config_dir:" not in text
    return text.replace("\nsite:\n", f"\nsite:\n  config_dir: {BASE}/{EXEC}/config.d\n", 1)


@pytest.fixture(scope="module")
def newest_pool(root: Root) -> Iterator[tuple[Pool, Site]]:
    root.kill_all()
    site = site_from_text(newest_site_text())
    assert site.default_os in site.newest
    pool = Pool(root, render_site(site))
    try:
        pool.start_central_and_submit()
        # Pool.install made an image of every `<OS>_DEFAULT_IMAGE = path` line, the placeholder too: a
        # node that never found a build must not run jobs in a real image.
        shutil.rmtree(root.host(newest.resolution(site, site.default_os).placeholder), ignore_errors=True)
        yield pool, site
    finally:
        root.kill_all()


def builds_dir(site: Site) -> str:
    return site.newest[site.default_os].path


def make_builds(root: Root, site: Site, names: list[str]) -> None:
    install_images(root, [f"{builds_dir(site)}/{n}" for n in names])


def make_hostile(root: Root, site: Site) -> None:
    for name in HOSTILE:
        (root.host(builds_dir(site)) / name).mkdir(parents=True, exist_ok=True)


def config_val(pool: Pool, site: Site) -> tuple[int, str, str]:
    proc = pool.root.run("condor_config_val", newest.resolution(site, site.default_os).macro, env=pool.env(EXEC), check=False)
    return proc.returncode, proc.stdout.strip(), proc.stderr


def cache_file(pool: Pool, site: Site) -> str:
    r = newest.resolution(site, site.default_os)
    return r.cache.replace(newest.CACHE_DIR, f"{BASE}/{EXEC}/local")


def test_condor_config_val_reads_the_newest_build_and_keeps_it(newest_pool: tuple[Pool, Site]) -> None:
    pool, site = newest_pool
    role = next(c.role for c in site.node_classes if site.default_os in c.images)
    pool.configure(EXEC, role)  # the role directory as Puppet ships it (scripts/ included); daemons not needed
    shutil.rmtree(pool.root.host(builds_dir(site)), ignore_errors=True)
    make_builds(pool.root, site, [OLDER, NEWER])
    make_hostile(pool.root, site)
    path = builds_dir(site)
    assert config_val(pool, site)[:2] == (0, f"{path}/{NEWER}")
    cache = pool.root.host(cache_file(pool, site))
    assert cache.read_text() == f"{newest.resolution(site, site.default_os).macro} = {path}/{NEWER}\n"
    make_builds(pool.root, site, [LATER])
    assert config_val(pool, site)[1] == f"{path}/{NEWER}", "the cache holds the answer until it is removed"
    cache.unlink()
    assert config_val(pool, site)[1] == f"{path}/{LATER}"
    # CVMFS shows no build (or only hostile names): the last good answer
    cache.unlink()
    for name in (OLDER, NEWER, LATER):
        shutil.rmtree(pool.root.host(f"{path}/{name}"))
    assert config_val(pool, site)[1] == f"{path}/{LATER}"
    # nothing ever found: the placeholder, which names the problem
    cache.unlink()
    pool.root.host(cache_file(pool, site) + ".last").unlink()
    assert config_val(pool, site)[1] == newest.resolution(site, site.default_os).placeholder
    # the script missing on the node: HTCondor refuses the configuration (no daemon starts on it)
    cache.unlink()
    script = pool.root.host(newest.script_path(site))
    saved = script.read_text()
    script.unlink()
    code, out, err = config_val(pool, site)
    assert code != 0 and "Config source Error" in err, (code, out, err)
    pool.root.write(newest.script_path(site), saved)


def test_busybox_sh_runs_the_script_too(newest_pool: tuple[Pool, Site], tmp_path_factory: pytest.TempPathFactory) -> None:
    pool, site = newest_pool
    shutil.rmtree(pool.root.host(builds_dir(site)), ignore_errors=True)
    make_builds(pool.root, site, [OLDER, NEWER])
    make_hostile(pool.root, site)
    r = newest.resolution(site, site.default_os)
    args = [a.replace(newest.CACHE_DIR, "/tmp") for a in r.command.split()[2:]]
    proc = pool.root.run("busybox", "sh", "-c", newest.SCRIPT, "newest-image", *args)
    assert proc.stdout == f"{r.macro} = {builds_dir(site)}/{NEWER}\n"


def test_a_job_runs_in_the_newest_build(newest_pool: tuple[Pool, Site]) -> None:
    pool, site = newest_pool
    cls = next(c for c in site.node_classes if site.default_os in c.images and c.interactive != "only")
    shutil.rmtree(pool.root.host(builds_dir(site)), ignore_errors=True)
    make_builds(pool.root, site, [OLDER, NEWER])
    make_hostile(pool.root, site)
    pool.start_execute(cls.role)
    for os_name in (None, site.default_os):
        cluster = submit_ok(pool, description(site, os_name))
        assert wait_job(pool, cluster, {"completed", "held"}) == "completed", better_analyze(pool, cluster)
        assert job_output(pool, cluster)["CONFGEN_IMAGE"] == f"{builds_dir(site)}/{NEWER}"


PUPPET_MODULES = "/var/lib/confgen-test/newest-puppet-modules"
PUPPET_SOURCE = "/var/lib/confgen-test/newest-puppet-output"


def puppet_apply(pool: Pool, role: str) -> tuple[int, str]:
    """The example module applied for real, with refresh_newest_images, to the execute instance's
    config directory and local directory (test-only: those paths and its CONDOR_CONFIG)."""
    manifest = (f"class {{ 'confgen_htcondor': role => '{role}', source => 'file://{PUPPET_SOURCE}', config_dir => '{BASE}/{EXEC}/config.d', "
                f"local_dir => '{BASE}/{EXEC}/local', refresh_newest_images => true, "
                f"reconfig_environment => ['CONDOR_CONFIG={BASE}/{EXEC}/condor_config'] }}")
    proc = pool.root.run("puppet", "apply", "--detailed-exitcodes", "--color=false", "--modulepath", PUPPET_MODULES, "-e", manifest,
                         env={"HOME": "/root"}, check=False, timeout=300)
    assert proc.returncode in (0, 2), proc.stdout + proc.stderr
    return proc.returncode, proc.stdout


def test_puppet_moves_a_running_node_to_the_newest_build_daily(newest_pool: tuple[Pool, Site]) -> None:
    pool, site = newest_pool
    cls = next(c for c in site.node_classes if site.default_os in c.images and c.interactive != "only")
    shutil.rmtree(pool.root.host(builds_dir(site)), ignore_errors=True)
    make_builds(pool.root, site, [OLDER, NEWER])
    pool.start_execute(cls.role)
    shutil.rmtree(pool.root.host(PUPPET_MODULES), ignore_errors=True)
    shutil.copytree(REPO_ROOT / "examples" / "puppet" / "confgen_htcondor", pool.root.host(f"{PUPPET_MODULES}/confgen_htcondor"))
    pool.root.install_dir(PUPPET_SOURCE, role_files(pool.fragments, cls.role))
    cache = pool.root.host(cache_file(pool, site))
    assert cache.read_text().endswith(f"/{NEWER}\n")
    make_builds(pool.root, site, [LATER])
    assert puppet_apply(pool, cls.role)[1].count("refresh newest images") == 0, "an answer younger than a day stays"
    day_ago = time.time() - 25 * 3600
    os.utime(cache, (day_ago, day_ago))
    master_log = pool.root.host(f"{BASE}/{EXEC}/local/log/MasterLog")
    reconfigs = master_log.read_text().count("Reconfiguring all managed daemons")
    code, out = puppet_apply(pool, cls.role)
    assert code == 2 and "Exec[confgen_htcondor refresh newest images]/returns: executed successfully" in out, out
    wait_for("the exec master to reconfigure", lambda: master_log.read_text().count("Reconfiguring all managed daemons") > reconfigs, timeout=30)
    wait_for("the reconfigured master to resolve the image again", lambda: cache.exists() and cache.read_text().endswith(f"/{LATER}\n"), timeout=30)
    cluster = submit_ok(pool, description(site, None))
    assert wait_job(pool, cluster, {"completed", "held"}) == "completed", better_analyze(pool, cluster)
    assert job_output(pool, cluster)["CONFGEN_IMAGE"] == f"{builds_dir(site)}/{LATER}"
