"""What interactive jobs in containers need bound, found out on real HTCondor 25 daemons and real
Apptainer: a site that binds NEITHER the EXECUTE directory NOR the HTCondor libexec directory, with
images that do not even contain /usr/libexec/condor, still gets a working condor_ssh_to_job into a
running batch job and a whole `condor_submit -interactive` session (prompt, image, scratch directory
under the target dir, thread variables). Since HTCondor 8.8 the starter runs sshd on the host and
enters the job's container with condor_nsenter (src/condor_starter.V6.1/os_proc.cpp, SetupSingularitySsh
and the .docker_sock handler); it binds its own launcher from LIBEXEC itself (singularity.cpp).

And a bind whose source is missing on the node: the job runs, without that mount; the starter only
logs it (StarterLog: "Skipping invalid singularity bind source directory <bind>").

Test-only, listed here: the site (SITE below: its own names and image paths, so the images can lose
/usr/libexec/condor without touching other tests' images); after Pool.install, which creates every
bind source the site names, the missing one is removed again. The health script and reboot check are
the pool's STAND-INs; nothing else is.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from confgen.render import render_site
from confgen.site.model import Site
from tests import unambiguous_yaml
from tests.conftest import site_from_text
from tests.pool.chroot import SUBMITTER, Root
from tests.pool.pool import BASE, Pool, wait_job
from tests.pool.test_interactive_session import interactive_session, ssh_to_a_running_job
from tests.pool.test_loopback_pool import better_analyze, description, submit_ok

MISSING = "/srv-site/not-on-this-node"
PRESENT = "/srv-site/software"
LIBEXEC = "/usr/libexec/condor"
EXECUTE = f"{BASE}/exec/local/execute"  # the test pool's EXECUTE (pool.py ROOT_CONFIG)
SITE = {
    "site": {"name": "BINDS", "uid_domain": "binds.example", "central_managers": ["cm.binds.example"]},
    "security": {"methods": ["FS"]},
    "containers": {"job_attribute": "Distro", "default": "Tumble", "target_dir": "/scratch-here",
                   "images": {"Tumble": "/images/no-libexec/tumble", "Slack15": "/images/no-libexec/slack15"},
                   "binds": [PRESENT, {"source": MISSING, "target": "/opt/missing", "read_only": True}]},
    "threads_env": ["GOTO_NUM_THREADS"],
    "node_classes": {"mixed": {"interactive": "allowed"}},
}


@pytest.fixture(scope="module")
def binds_pool(root: Root) -> Iterator[tuple[Pool, Site]]:
    site = site_from_text(unambiguous_yaml.dump(SITE, sort_keys=False))
    assert not any(b.source in (LIBEXEC, EXECUTE) or (b.target or b.source) in (LIBEXEC, EXECUTE) for b in site.binds)
    root.kill_all()
    pool = Pool(root, render_site(site), site.health_names)
    try:
        pool.start_central_and_submit()
        for image in site.images.values():  # images without HTCondor's libexec directory
            shutil.rmtree(root.host(f"{image}{LIBEXEC}"), ignore_errors=True)
        shutil.rmtree(root.host(MISSING))
        pool.start_execute(site.node_classes[0].role)
        yield pool, site
    finally:
        root.kill_all()


def test_a_missing_bind_source_is_skipped_and_the_job_runs(binds_pool: tuple[Pool, Site]) -> None:
    pool, site = binds_pool
    os_name = site.default_os
    cluster = submit_ok(pool, description(site, os_name, command=f"test ! -e {LIBEXEC} && cat /etc/confgen-image /proc/self/mountinfo"))
    assert wait_job(pool, cluster, {"completed", "held"}) == "completed", better_analyze(pool, cluster)
    out = pool.root.host(f"/home/{SUBMITTER}/out.{cluster}").read_text()
    assert out.startswith(site.images[os_name] + "\n"), f"the image has no {LIBEXEC}: {out[:300]}"
    mounts = job_mounts_of_command(pool, cluster)
    missing = next(b for b in site.binds if b.source == MISSING)
    assert PRESENT in mounts and missing.target not in mounts, sorted(mounts)
    # EXECUTE itself is not bound; Apptainer mounts only the job's own scratch directory at its path
    assert EXECUTE not in mounts and all(not m.startswith(EXECUTE + "/") or "/dir_" in m for m in mounts), sorted(mounts)
    log = "".join(p.read_text(errors="replace") for p in pool.root.host(f"{BASE}/exec/local/log").glob("StarterLog*"))
    assert f"Skipping invalid singularity bind source directory {missing.spec()}" in log


def job_mounts_of_command(pool: Pool, cluster: int) -> set[str]:
    """Mount points in the job's container, from /proc/self/mountinfo the command printed."""
    text = pool.root.host(f"/home/{SUBMITTER}/out.{cluster}").read_text()
    return {line.split()[4] for line in text.splitlines() if len(line.split()) > 5 and line.split()[0].isdigit()}


def test_ssh_to_job_and_an_interactive_session_need_neither_execute_nor_libexec_bound(binds_pool: tuple[Pool, Site]) -> None:
    pool, site = binds_pool
    os_name = next(o for o in site.node_classes[0].images if o != site.default_os)
    ssh_to_a_running_job(pool, site, os_name)  # prints the image's marker, through condor_nsenter
    session = interactive_session(pool, site, os_name, until_gone=False)  # prompt, image, scratch dir, threads
    print(f"\nno EXECUTE/libexec binds: prompt after {session.to_prompt_s:.1f} s; greeting: {session.greeting!r}")

