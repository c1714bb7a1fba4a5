"""The images' login experience (output/images/) and batch jobs that see the login environment
(containers.login_environment), on the real HTCondor daemons of tests/pool/pool.py and the real Apptainer.

Real: the job and machine ad files the snippet reads are written by a real starter for a real job (the job
copies $_CONDOR_JOB_AD and $_CONDOR_MACHINE_AD out), the hostile attribute values are put into that job's
ad with condor_qedit, the shells are the root's real bash, dash (/bin/sh) and busybox sh, the interactive
session is a real condor_submit -interactive under a pty (tests/pool/terminal.py) into the real image.
Expectations come from the Site model (threads_env, images) and from what HTCondor itself says the job
requested (condor_history / condor_q), never from the example's names.

Test-only, listed here: PROFILE_STANDIN, a profile snippet standing in for the site's own ones (the
variable it exports is what "the login environment" must carry); the snippet and the hook are written
into the test images as the rendered recipe fragment installs them (Pool.image_files), and removed after.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from confgen.render import Fragment, render_site
from confgen.render import images as img
from confgen.site.model import NodeClass, Site
from tests import unambiguous_yaml
from tests.conftest import site_from_text
from tests.pool.chroot import SUBMITTER, Root
from tests.pool.conftest import SITE_PATH
from tests.pool.pool import Pool, wait_job
from tests.pool.terminal import Terminal
from tests.pool.test_interactive_session import CPUS, end_session, interactive_argv, job_attr, open_session
from tests.pool.test_loopback_pool import better_analyze, description, job_output, submit_ok

PROFILE_STANDIN = "/etc/profile.d/zz-confgen-test-login.sh"  # STAND-IN for the site's own profile snippets
LOGIN_VAR, LOGIN_VALUE = "CONFGEN_TEST_LOGIN", "from-profile"
PWNED = "/tmp/confgen-pwned"  # what every hostile value would create if the snippet ran it
HOSTILE = {  # attribute -> ClassAd expression (condor_qedit), each a string value that is shell code
    "HostileCommand": f'"$(touch {PWNED})"',
    "HostileTicks": f'"`touch {PWNED}`"',
    "HostileQuotes": f'"it\'s \\"quoted\\"; touch {PWNED}; \'"',
    "HostileNewline": f'"x\\nRequestCpus = 99\\n$(touch {PWNED})"',
}
DISK = "request_disk = 100MB"  # the greeting's disk space: an explicit request (the default is an expression)
SHELLS = {"bash": ["bash", "--norc", "--noprofile"], "dash": ["dash"], "busybox sh": ["busybox", "sh"]}
WORK = "/tmp/confgen-login"  # in the root: the copied ad files and the snippet the shells read


def image_files(fragments: list[Fragment]) -> dict[str, str]:
    """What the rendered recipe fragment installs into an image, plus the test's profile stand-in."""
    rendered = {f.name: f.text for f in fragments if f.role == img.ROLE}
    return {img.SNIPPET_TARGET: rendered[img.SNIPPET], img.HOOK_TARGET: rendered[img.HOOK],
            PROFILE_STANDIN: f"export {LOGIN_VAR}={LOGIN_VALUE}\n"}


def both_kinds(site: Site) -> NodeClass:
    """A class that runs batch and interactive jobs."""
    return next(c for c in site.node_classes if c.interactive == "allowed")


@contextlib.contextmanager
def login_pool(root: Root, site: Site) -> Iterator[Pool]:
    root.kill_all()
    fragments = render_site(site)
    pool = Pool(root, fragments, site.health_names)
    pool.image_files = image_files(fragments)
    try:
        pool.start_central_and_submit()
        pool.start_execute(both_kinds(site).role)
        yield pool
    finally:
        pool.remove_image_files()
        root.kill_all()


def run_job(pool: Pool, site: Site, name: str, *, interactive: bool = False, hostile: bool = False) -> int:
    """A batch job in the image of a non-default OS that copies its ad files out as <name>.job.ad and
    <name>.machine.ad; with `hostile`, the HOSTILE attributes are in its ad before it starts."""
    os_name = next(o for o in both_kinds(site).images if o != site.default_os)
    command = f"cp $_CONDOR_JOB_AD {name}.job.ad && cp $_CONDOR_MACHINE_AD {name}.machine.ad && env"
    cluster = submit_ok(pool, description(site, os_name, cpus=CPUS, interactive=interactive, hold=hostile, command=command, extra=DISK + "\n"))
    if hostile:
        for attr, value in HOSTILE.items():
            pool.root.run("condor_qedit", str(cluster), attr, value, env=pool.env("submit"), user=SUBMITTER)
        pool.root.run("condor_release", str(cluster), env=pool.env("submit"), user=SUBMITTER)
    assert wait_job(pool, cluster, {"completed", "held"}, timeout=90) == "completed", better_analyze(pool, cluster)
    return cluster


def requested(pool: Pool, cluster: int) -> tuple[str, str, str]:
    """RequestCpus, RequestMemory, RequestDisk as HTCondor evaluated them for the finished job."""
    out = pool.root.run("condor_history", str(cluster), "-limit", "1", "-af", "RequestCpus", "RequestMemory", "RequestDisk",
                        env=pool.env("submit")).stdout.split()
    assert len(out) == 3, out
    return out[0], out[1], out[2]


def greeting(cpus: str, memory: str, disk: str) -> str:
    return f"You requested {cpus} core(s), {memory} MB RAM, {disk} kB disk space"


def source_snippet(root: Root, shell: str, *, job_ad: str | None, machine_ad: str | None, interactive: bool) -> tuple[str, dict[str, str]]:
    """Source the snippet under `set -eu` in `shell`; returns (what it printed, the exported thread variables)."""
    env = {k: v for k, v in (("_CONDOR_JOB_AD", job_ad), ("_CONDOR_MACHINE_AD", machine_ad)) if v is not None}
    script = f'set -eu; echo "--- sourcing"; . {WORK}/snippet.sh; echo "--- status $?"; env'
    proc = root.run(*SHELLS[shell], *(["-i"] if interactive else []), "-c", script, env=env, check=False, timeout=30)
    assert proc.returncode == 0, (shell, proc.stdout, proc.stderr)
    printed, _, listing = proc.stdout.partition("--- sourcing\n")[2].partition("--- status 0\n")
    assert listing, (shell, proc.stdout, proc.stderr)
    exported = dict(line.split("=", 1) for line in listing.splitlines() if "=" in line)
    return printed, exported


def put(root: Root, name: str, text: str) -> str:
    root.write(f"{WORK}/{name}", text)
    return f"{WORK}/{name}"


@pytest.fixture(scope="module")
def off_pool(root: Root, site: Site) -> Iterator[tuple[Pool, dict[str, int]]]:
    """The shipped site (login_environment off): one interactive-flagged job with hostile attributes and one
    plain batch job, both finished, their ad files in the submitter's home."""
    assert not site.login_environment
    with login_pool(root, site) as pool:
        root.run("rm", "-f", PWNED)
        jobs = {"flagged": run_job(pool, site, "flagged", interactive=True, hostile=True), "batch": run_job(pool, site, "batch")}
        put(root, "snippet.sh", pool.image_files[img.SNIPPET_TARGET])
        yield pool, jobs
    root.run("rm", "-rf", WORK)


def real_ad(pool: Pool, name: str, kind: str) -> str:
    return pool.root.host(f"/home/{SUBMITTER}/{name}.{kind}.ad").read_text()


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_the_snippet_greets_and_exports_from_real_job_ads_and_runs_no_hostile_value(off_pool: tuple[Pool, dict[str, int]], site: Site, shell: str) -> None:
    pool, jobs = off_pool
    job_ad = real_ad(pool, "flagged", "job")
    for attr in HOSTILE:
        assert re.search(rf"^{attr} = ", job_ad, re.M), f"{attr} is not in the real job ad"
    job, machine = put(pool.root, "flagged.job.ad", job_ad), put(pool.root, "flagged.machine.ad", real_ad(pool, "flagged", "machine"))
    cpus, memory, disk = requested(pool, jobs["flagged"])
    printed, exported = source_snippet(pool.root, shell, job_ad=job, machine_ad=machine, interactive=True)
    assert printed == greeting(cpus, memory, disk) + "\n", (shell, printed)
    assert {v: exported.get(v) for v in site.threads_env} == dict.fromkeys(site.threads_env, cpus)
    # not an interactive shell (a batch payload, ssh_to_job <command>): the variables, no greeting
    printed, exported = source_snippet(pool.root, shell, job_ad=job, machine_ad=machine, interactive=False)
    assert printed == "" and {v: exported.get(v) for v in site.threads_env} == dict.fromkeys(site.threads_env, cpus)
    # a batch job's ad (no InteractiveJob) under an interactive shell: no greeting either
    batch = put(pool.root, "batch.job.ad", real_ad(pool, "batch", "job"))
    printed, _ = source_snippet(pool.root, shell, job_ad=batch, machine_ad=machine, interactive=True)
    assert printed == ""
    assert not pool.root.host(PWNED).exists()


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_hostile_request_values_are_never_run_and_the_slot_size_is_said_instead(off_pool: tuple[Pool, dict[str, int]], shell: str) -> None:
    """The real ad with its RequestCpus and RequestMemory lines replaced by shell code (HTCondor itself refuses
    such values at submit): the snippet runs none of it and says what the slot (the machine ad) has."""
    pool, _ = off_pool
    job_ad = real_ad(pool, "flagged", "job")
    job_ad = re.sub(r"^RequestCpus = .*$", f"RequestCpus = $(touch {PWNED})", job_ad, flags=re.M)
    job_ad = re.sub(r"^RequestMemory = .*$", f"RequestMemory = `touch {PWNED}`; 7", job_ad, flags=re.M)
    machine_ad = real_ad(pool, "flagged", "machine")
    slot = {a: re.search(rf"^{a} = (\d+)$", machine_ad, re.M) for a in ("Cpus", "Memory")}
    assert all(slot.values()), "the real machine ad has Cpus and Memory"
    disk = re.search(r"^RequestDisk = (\d+)$", job_ad, re.M)
    assert disk, "the job asked for its disk space explicitly"
    printed, exported = source_snippet(pool.root, shell, job_ad=put(pool.root, "hostile.job.ad", job_ad),
                                       machine_ad=put(pool.root, "hostile.machine.ad", machine_ad), interactive=True)
    cpus, memory = slot["Cpus"].group(1), slot["Memory"].group(1)  # type: ignore[union-attr]
    assert printed == greeting(cpus, memory, disk.group(1)) + "\n"
    assert exported.get("OMP_NUM_THREADS", cpus) == cpus
    assert not pool.root.host(PWNED).exists()


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_without_job_ad_files_the_snippet_prints_and_exports_nothing(off_pool: tuple[Pool, dict[str, int]], site: Site, shell: str) -> None:
    pool, _ = off_pool
    empty = put(pool.root, "empty.ad", "")
    pool.root.host(f"{WORK}/a-directory.ad").mkdir(exist_ok=True)
    for job_ad, machine_ad in ((None, None), (f"{WORK}/missing.ad", f"{WORK}/missing.ad"), (empty, empty), (f"{WORK}/a-directory.ad", None)):
        printed, exported = source_snippet(pool.root, shell, job_ad=job_ad, machine_ad=machine_ad, interactive=True)
        assert printed == "", (job_ad, printed)
        assert not set(site.threads_env) & set(exported), (job_ad, exported)
        assert not [k for k in exported if k.startswith("_confgen")], exported  # its own variables are gone


def test_with_the_option_off_a_batch_job_does_not_see_the_login_environment(off_pool: tuple[Pool, dict[str, int]]) -> None:
    pool, jobs = off_pool
    assert "STARTER_JOB_ENVIRONMENT" not in "".join(f.text for f in pool.fragments if f.role.startswith("execute-"))
    env = job_output(pool, jobs["batch"])
    assert LOGIN_VAR not in env and img.LOGIN_SWITCH not in env, env


@pytest.fixture(scope="module")
def login_site(site: Site) -> Site:
    doc = yaml.safe_load(Path(SITE_PATH).read_text())
    doc["containers"]["login_environment"] = True
    return site_from_text(unambiguous_yaml.dump(doc, sort_keys=False))


def test_with_the_option_on_batch_and_interactive_jobs_see_the_login_environment_and_the_greeting(root: Root, login_site: Site) -> None:
    site = login_site
    assert site.login_environment
    with login_pool(root, site) as pool:
        cluster = run_job(pool, site, "login")
        env = job_output(pool, cluster)
        assert env.get(LOGIN_VAR) == LOGIN_VALUE, env  # the batch job: /etc/profile.d was read
        assert {v: env.get(v) for v in site.threads_env} == dict.fromkeys(site.threads_env, str(CPUS))
        os_name = next(o for o in both_kinds(site).images if o != site.default_os)
        term = Terminal([*interactive_argv(pool, site, os_name), "-append", DISK])
        try:
            session = open_session(pool, site, os_name, term)
            cpus, memory, disk = (job_attr(pool, session.cluster, a) for a in ("RequestCpus", "RequestMemory", "RequestDisk"))
            assert greeting(cpus, memory, disk) in session.greeting, session.greeting
            assert session.env.get(LOGIN_VAR) == LOGIN_VALUE, session.env
            # the snippet's own exports: a login shell without HTCondor's thread variables gets them back
            unset = " ".join(f"-u {v}" for v in site.threads_env)
            again = term.run(f"env {unset} sh -l -c env")
            found = dict(line.split("=", 1) for line in again.splitlines() if "=" in line)
            assert {v: found.get(v) for v in site.threads_env} == dict.fromkeys(site.threads_env, cpus), again
            end_session(term)
        finally:
            term.close()
    print(f"\nlogin environment on: greeting {session.greeting!r}")


#: STAND-IN for the site's own bootstrap of an OS image (Bootstrap: docker/yum/debootstrap need a network):
#: an empty image with the root's static busybox as /bin/sh.
BOOTSTRAP_STANDIN = """Bootstrap: scratch

%setup
    mkdir -p ${APPTAINER_ROOTFS}/bin ${APPTAINER_ROOTFS}/etc/profile.d
    cp /usr/bin/busybox ${APPTAINER_ROOTFS}/bin/sh

"""


def test_the_recipe_fragment_of_each_os_installs_the_files_with_the_real_apptainer_build(root: Root, site: Site) -> None:
    rendered = {f.name: f.text for f in render_site(site) if f.role == img.ROLE}
    os_name = site.default_os
    build = f"{WORK}/build"
    root.run("rm", "-rf", build)
    for name, text in rendered.items():
        root.write(f"{build}/{name}", text)
    root.write(f"{build}/test.def", BOOTSTRAP_STANDIN + rendered[f"recipes/{os_name}.def"])
    proc = root.run("/usr/bin/env", "-C", build, "apptainer", "build", "--sandbox", f"{build}/image", "test.def", check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for inside, name in ((img.SNIPPET_TARGET, img.SNIPPET), (img.HOOK_TARGET, img.HOOK)):
        installed = root.host(f"{build}/image{inside}")
        assert installed.read_text() == rendered[name] and installed.stat().st_mode & 0o777 == 0o644, inside
    root.run("rm", "-rf", build)
