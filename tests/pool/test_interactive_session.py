"""A real interactive session: `condor_submit -interactive` run by the submitting user under a
pseudo-terminal (tests/pool/terminal.py), on the real HTCondor daemons of tests/pool/pool.py reading the
rendered configuration, the shell started by the real condor_ssh_to_job/sshd/condor_nsenter inside the
real Apptainer image of the OS the user appended. The health script and reboot check are the pool's
STAND-INs; nothing else is.

Expectations come from the Site model: the OS attribute, the image of each OS, the thread variables,
which class is interactive-only. Two sites: the shipped one, and one that shares none of its names.

Test-only, listed here: the session appends `should_transfer_files = YES` (SINGLE_HOST_APPEND). In a
real pool the access point and the execute point are two hosts, so two FileSystemDomains (confgen sets
none; HTCondor's default is the host name), and condor_submit -interactive's IF_NEEDED transfers the
sandbox. In the single-host test pool they share one, the job would run in its submit directory (bound
at the target dir), and the session would start in / after "Cannot chdir to <target_dir>/scratch". The
test machine has no writable cgroup, hence the greeting line "Warning: cannot move into job cgroup".
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from confgen.render import render_site
from confgen.site.model import Site
from tests import unambiguous_yaml
from tests.conftest import site_from_text
from tests.pool.chroot import SUBMITTER, Root, wait_for
from tests.pool.pool import Pool, wait_job
from tests.pool.terminal import Terminal
from tests.pool.test_loopback_pool import better_analyze, description, submit_ok

CPUS = 2  # the CPU request of every session: the thread variables must say 2, not the default 1
PROMPT = r"\$ $"  # sh's prompt (the user's login shell in the test root is /bin/sh)
PROMPT_S = 90  # from submit to prompt: 13-32 s seen
#: condor_submit -interactive's own job: `sleep 180 && while test -d $_CONDOR_SCRATCH_DIR/.condor_ssh_to_job_1 ...`,
#: so after `exit` the job ends at the latest 180 s after it started (plus its 3 s poll).
JOB_KEEPER_S = 180
SINGLE_HOST_APPEND = "should_transfer_files = YES"  # see the module docstring

VARIED = {
    "site": {"name": "TTY", "uid_domain": "tty.example", "central_managers": ["cm.tty.example"]},
    "security": {"methods": ["FS"]},
    "containers": {"job_attribute": "WantDistro", "default": "Leap15",
                   "images": {"Leap15": "/images/leap15", "Alma9": "/images/alma9"}},
    "threads_env": ["BLIS_NUM_THREADS", "MY_APP_THREADS"],
    "node_classes": {"shared": {"interactive": "allowed"}},
}


@pytest.fixture(scope="module")
def varied_site() -> Site:
    return site_from_text(unambiguous_yaml.dump(VARIED, sort_keys=False))


@contextlib.contextmanager
def running_pool(root: Root, site: Site, role: str) -> Iterator[Pool]:
    """A pool of the site with one execute class; the whole machine is restarted after, whatever happened."""
    root.kill_all()
    pool = Pool(root, render_site(site), site.health_names)
    try:
        pool.start_central_and_submit()
        pool.start_execute(role)
        yield pool
    finally:
        root.kill_all()


def interactive_argv(pool: Pool, site: Site, os_name: str) -> list[str]:
    """What the user types in their home directory: condor_submit -interactive with the site's OS
    attribute and a CPU request appended."""
    home = f"/home/{SUBMITTER}"
    return pool.root.command("/usr/bin/env", "-C", home, "condor_submit", "-interactive",
                             "-append", f'+{site.job_attribute} = "{os_name}"', "-append", f"request_cpus = {CPUS}",
                             "-append", "request_memory = 64", "-append", SINGLE_HOST_APPEND, env={**pool.env("submit"), "TERM": "xterm"}, user=SUBMITTER)


@dataclass
class Session:
    """What one interactive session showed."""

    cluster: int
    greeting: str  # everything before the first prompt
    to_prompt_s: float
    image: str
    pwd: str
    env: dict[str, str]


def open_session(pool: Pool, site: Site, os_name: str, term: Terminal) -> Session:
    started = time.monotonic()
    m = term.expect(r"submitted to cluster (\d+)", 30)
    cluster = int(m.group(1))
    term.expect(PROMPT, PROMPT_S)
    to_prompt = time.monotonic() - started
    greeting = term.transcript[:term.transcript.rfind("$")]
    image = term.run("cat /etc/confgen-image").strip()
    pwd = term.run("pwd").strip()
    env = dict(line.split("=", 1) for line in term.run("env").splitlines() if "=" in line)
    return Session(cluster, greeting, to_prompt, image, pwd, env)


def job_attr(pool: Pool, cluster: int, attr: str) -> str:
    return pool.root.run("condor_q", "-allusers", str(cluster), "-af", attr, env=pool.env("submit"), check=False).stdout.strip()


def ssh_to_job(pool: Pool, cluster: int, command: str) -> subprocess.CompletedProcess[str]:
    """condor_ssh_to_job <job> <command> without a terminal (stdin is not one)."""
    return pool.root.run("/usr/bin/env", "-C", f"/home/{SUBMITTER}", "condor_ssh_to_job", str(cluster), command,
                         env=pool.env("submit"), user=SUBMITTER, check=False, timeout=60)


def users_processes(root: Root, uid: int) -> list[str]:
    """Command lines of the machine's processes that run as `uid`."""
    found = []
    for pid in root.processes():
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            if re.search(rf"^Uid:\s+{uid}\s", status, re.M):
                found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
    return found


def submitter_uid(root: Root) -> int:
    return int(root.run("id", "-u", SUBMITTER).stdout)


def check_session(pool: Pool, site: Site, os_name: str, session: Session) -> None:
    assert session.image == site.images[os_name], session  # the image of the OS the user appended
    for var in ("OMP_NUM_THREADS", *site.threads_env):
        assert session.env.get(var) == str(CPUS), (var, session.env.get(var))  # equal to the CPU request
    assert job_attr(pool, session.cluster, "InteractiveJob") == "true"
    # the shell starts in the job's scratch directory, under the site's target dir when it has one
    assert session.pwd == session.env.get("_CONDOR_SCRATCH_DIR"), (session.pwd, session.greeting)
    if site.target_dir:
        assert session.pwd.startswith(site.target_dir.rstrip("/") + "/"), session.pwd
    assert job_attr(pool, session.cluster, site.job_attribute) == os_name


def end_session(term: Terminal) -> None:
    """`exit` in the shell: the session closes and condor_submit exits 0."""
    term.send("exit\r")
    assert term.wait(30) == 0, term.transcript[-2000:]


def interactive_session(pool: Pool, site: Site, os_name: str, *, until_gone: bool = True) -> Session:
    """A whole session: prompt, the image and thread variables, `exit`; nothing of the session is left
    in the machine. With `until_gone`, also waits until the job leaves the queue and nothing of it runs."""
    term = Terminal(interactive_argv(pool, site, os_name))
    try:
        session = open_session(pool, site, os_name, term)
        check_session(pool, site, os_name, session)
        end_session(term)
    finally:
        term.close()
    uid = submitter_uid(pool.root)
    wait_for("the session's shell, sshd and condor_submit to end",
             lambda: not [p for p in users_processes(pool.root, uid) if re.search(r"sh -l -i|sshd|condor_submit|condor_ssh_to_job", p)], timeout=15)
    if until_gone:
        assert wait_job(pool, session.cluster, {"completed", "removed"}, timeout=JOB_KEEPER_S + 30) in {"completed", "removed"}
        wait_for("no process of the session's user in the machine", lambda: not users_processes(pool.root, uid), timeout=30)
    return session


def ssh_to_a_running_job(pool: Pool, site: Site, os_name: str) -> float:
    """condor_ssh_to_job <job> <command> into a running batch job, without a terminal: it runs the
    command in the job's container. Returns the seconds from `running` to the first success."""
    cluster = submit_ok(pool, description(site, os_name, command="sleep 300"))
    assert wait_job(pool, cluster, {"running", "held", "completed"}, timeout=60) == "running", better_analyze(pool, cluster)
    running = time.monotonic()
    proc = wait_for("condor_ssh_to_job to reach the starter", lambda: (p := ssh_to_job(pool, cluster, "cat /etc/confgen-image")).returncode == 0 and p, timeout=30)
    after = time.monotonic() - running
    assert proc.stdout.strip() == site.images[os_name], proc.stdout + proc.stderr
    pool.root.run("condor_rm", str(cluster), env=pool.env("submit"), user=SUBMITTER)
    return after


def test_on_the_interactive_only_class_a_session_starts_and_a_batch_job_is_refused(root: Root, site: Site) -> None:
    cls = next((c for c in site.node_classes if c.interactive == "only"), None)
    assert cls is not None, "the shipped site has an interactive-only class"
    os_name = next(o for o in cls.images if o != site.default_os)
    with running_pool(root, site, cls.role) as pool:
        batch = submit_ok(pool, description(site, os_name, cpus=1))
        session = interactive_session(pool, site, os_name)
        # the batch job, submitted before the session, never started
        assert pool.job_status(batch) == "idle"
        analysis = wait_for("better-analyze to say the slot rejects the batch job",
                            lambda: re.search(r"[1-9]\d* slots reject your job because of their own requirements", a := better_analyze(pool, batch)) and a, timeout=30)
        assert pool.job_status(batch) == "idle", analysis
        start, end = pool.root.run("condor_history", str(session.cluster), "-limit", "1", "-af", "JobCurrentStartDate", "CompletionDate", env=pool.env("submit")).stdout.split()
    print(f"\nshipped site: prompt after {session.to_prompt_s:.1f} s; the job ran {int(end) - int(start)} s; greeting: {session.greeting!r}")


def test_a_site_with_other_names_gets_its_image_and_thread_variables_in_a_session(root: Root, varied_site: Site) -> None:
    site = varied_site
    assert site.job_attribute != "ContainerOS" and "OMP_NUM_THREADS" not in site.threads_env
    cls = site.node_classes[0]
    os_name = next(o for o in cls.images if o != site.default_os)
    with running_pool(root, site, cls.role) as pool:
        ssh_after = ssh_to_a_running_job(pool, site, os_name)  # first: the session's job would hold every CPU for 180 s
        session = interactive_session(pool, site, os_name, until_gone=False)
    print(f"\nvaried site: prompt after {session.to_prompt_s:.1f} s; greeting: {session.greeting!r}; ssh_to_job {ssh_after:.1f} s after running")


@pytest.mark.xfail(strict=True, reason="HTCondor 25.14.1: after a second condor_ssh_to_job into the job, the starter no longer "
                   "knows the session shell's condor_nsenter (StarterLog: 'OsProc::singEnterReaper called for unknown pid'), "
                   "so `exit` leaves condor_submit waiting and the job running")
def test_exit_ends_a_session_into_which_a_second_condor_ssh_to_job_went(root: Root, varied_site: Site) -> None:
    site = varied_site
    cls = site.node_classes[0]
    os_name = next(o for o in cls.images if o != site.default_os)
    with running_pool(root, site, cls.role) as pool:
        term = Terminal(interactive_argv(pool, site, os_name))
        try:
            session = open_session(pool, site, os_name, term)
            proc = ssh_to_job(pool, session.cluster, "cat /etc/confgen-image")  # a second session, no terminal
            assert proc.returncode == 0 and proc.stdout.strip() == site.images[os_name], proc.stdout + proc.stderr
            term.send("exit\r")
            assert term.wait(20) == 0, term.transcript[-500:]
        finally:
            term.close()
