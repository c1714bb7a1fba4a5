"""A personal HTCondor pool on 127.0.0.1 in the test machine (tests/namespaces.py), from the rendered
fragments of a site.

Three instances side by side on one host, each with its own master, local directory and shared port:
the central manager, the submit role and one execute class. Each reads its rendered role directory
byte for byte, then the test overrides (test.d/99-confgen-test.conf), which are only:
- loopback: NETWORK_INTERFACE = 127.0.0.1 and the central managers' names resolving to 127.0.0.1 in
  the chroot's /etc/hosts (so the rendered host-based ALLOW lists apply unchanged); optionally the
  execute instance on another loopback address with a name of its own (`Pool.execute_host`);
- single host: a shared port per instance, one collector and a negotiator without HAD (HAD needs
  two hosts), MASTER_NAME per instance;
- FS authentication only (tests/pool/test_kerberos.py runs a real KDC);
- speed: daemons update every few seconds, the health script runs every 2 s and the schedd evaluates
  the periodic job policy (the runtime limit's hold) every 2 s instead of every 60 s.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
from collections.abc import Iterable
from pathlib import Path

from confgen.render import Fragment
from confgen.site.model import HealthNames
from tests.pool.chroot import HOSTNAME, SUBMITTER, Root, wait_for

BASE = "/var/lib/confgen-test/pool"
IMAGE_BASE = "/var/cache/confgen-test/image-base"  # in the root: built once, the OS images are hard-linked copies
IMAGE_MARKER = "/etc/confgen-image"  # in each image: its own path, so a job can say which image it got
PROBE = "/usr/local/share/confgen-test/probe"  # the jobs' executable: reports where it ran
HEALTH_STATE = "/etc/confgen-test/healthy"  # the stand-in health script reports what this file says

ROOT_CONFIG = """# Root config of the {inst} instance of the test pool (not shipped).
RELEASE_DIR = /usr
LOCAL_DIR = {base}/{inst}/local
RUN = $(LOCAL_DIR)/run
LOG = $(LOCAL_DIR)/log
LOCK = $(LOCAL_DIR)/lock
SPOOL = $(LOCAL_DIR)/spool
EXECUTE = $(LOCAL_DIR)/execute
ETC = /etc/condor
BIN = /usr/bin
SBIN = /usr/sbin
LIB = /usr/lib/condor
LIBEXEC = /usr/libexec/condor
SHARE = /usr/share/condor
LOCAL_CONFIG_DIR = {base}/{inst}/config.d, {base}/{inst}/test.d
"""

COMMON = """# NOT SHIPPED. Test overrides for a single-host loopback pool inside a chroot (tests/pool/pool.py).
# loopback
NETWORK_INTERFACE = 127.0.0.1
BIND_ALL_INTERFACES = False
ENABLE_IPV6 = False
COLLECTOR_HOST = $(CONFGEN_CENTRAL_MANAGER1):9618
# single host: three instances side by side
MASTER_NAME = {inst}
# FS only (the Kerberos test has its own KDC)
SEC_DEFAULT_AUTHENTICATION_METHODS = FS
SEC_CLIENT_AUTHENTICATION_METHODS = FS
# speed
UPDATE_INTERVAL = 2
MASTER_UPDATE_INTERVAL = 5
"""
PER_ROLE = {
    "central-manager": """DAEMON_LIST = MASTER, COLLECTOR, NEGOTIATOR
MASTER_NEGOTIATOR_CONTROLLER =
NEGOTIATOR_INTERVAL = 2
NEGOTIATOR_MIN_INTERVAL = 1
NEGOTIATOR_CYCLE_DELAY = 1
""",
    "submit": """SHARED_PORT_PORT = 9628
SCHEDD_INTERVAL = 2
SCHEDD_MIN_INTERVAL = 1
PERIODIC_EXPR_INTERVAL = 2
""",
    "execute": """SHARED_PORT_PORT = 9638
STARTD_CRON_HEALTH_PERIOD = 2s
""",
}

def health_standin(names: HealthNames) -> str:
    """A STAND-IN node health script: reports what HEALTH_STATE says (the tests write it), under the
    names the site's script publishes."""
    lines = ["#!/bin/sh", f"# STAND-IN node health script: reports what {HEALTH_STATE} says (the tests write it).",
             f'if [ "$(cat {HEALTH_STATE} 2>/dev/null)" = "yes" ]; then h=True; else h=False; fi',
             f'echo "{names.healthy} = $h"']
    if names.interactive is not None:
        lines.append(f'echo "{names.interactive} = $h"')
    return "\n".join(lines) + "\n"

#: What every test job runs (the payload, transferred into the job's scratch directory): its
#: environment, then what only the container it ran in can say.
PROBE_SCRIPT = f"""#!/bin/sh
# The test jobs' payload: where did this job run?
env | sort
echo "CONFGEN_IMAGE=$(cat {IMAGE_MARKER} 2>/dev/null || echo none)"
echo "CONFGEN_PWD=$(pwd)"
while read -r _ _ _ _ point options _; do echo "CONFGEN_MOUNT=$point $options"; done < /proc/self/mountinfo
"""

IMAGE_SCRIPT = f"""set -e
# The OS images of the test pool: one base built by apptainer (its .singularity.d), holding the root's
# own /usr and /etc; each image a hard-linked copy of it with its own {IMAGE_MARKER}.
base={IMAGE_BASE}
if [ ! -f $base/.confgen-ready ]; then
    rm -rf $base $base.src $base.new
    mkdir -p $base.src/etc
    apptainer build --sandbox $base.new $base.src >/dev/null 2>&1
    rm -rf $base.new/usr $base.new/etc $base.new/bin $base.new/sbin $base.new/lib $base.new/lib64
    cp -al /usr $base.new/usr
    cp -a /etc $base.new/etc
    for d in bin sbin lib lib64; do ln -s usr/$d $base.new/$d; done
    rm -rf $base.src
    mv $base.new $base
    touch $base/.confgen-ready
fi
while read -r path mark; do
    if [ "$(cat "$path{IMAGE_MARKER}" 2>/dev/null)" != "$mark" ]; then
        rm -rf "$path"
        mkdir -p "$(dirname "$path")"
        cp -al $base "$path"
        rm -f "$path/.confgen-ready" "$path{IMAGE_MARKER}"
        printf '%s\\n' "$mark" > "$path{IMAGE_MARKER}"
    fi
done
"""


def install_images(root: Root, paths: Iterable[str]) -> None:
    """Real Apptainer sandbox images at these paths, each marked with its path."""
    root.run("sh", "-c", IMAGE_SCRIPT, input="".join(f"{path} {path}\n" for path in sorted(set(paths))), timeout=300)


REBOOT_STANDIN = "#!/bin/sh\n# STAND-IN reboot check: no reboot is due.\necho 'RebootNeeded = False'\n"


def role_files(fragments: list[Fragment], role: str) -> dict[str, str]:
    return {f.name: f.text for f in fragments if f.role == role}


class Pool:
    def __init__(self, root: Root, fragments: list[Fragment], health_names: HealthNames | None = None) -> None:
        self.root = root
        self.fragments = fragments
        self.health_names = health_names or HealthNames()
        self.execute_role: str | None = None
        #: (address, name) of the execute instance when it stands for a host of its own (another
        #: loopback address with its own name); None: 127.0.0.1 like the others.
        self.execute_host: tuple[str, str] | None = None
        #: Test-only overrides a test adds, per kind (central-manager, submit, execute), after PER_ROLE.
        self.overrides: dict[str, str] = {}
        #: Named execute instances (start_execute(role, name=...)): name -> shared port.
        self.named: dict[str, int] = {}
        #: The instances the tools talk to: the collector's and the schedd's (one instance for a host
        #: kind that takes both roles, `start_kind`).
        self.cm_inst = "cm"
        self.submit_inst = "submit"
        #: Files a test adds into every OS image (path inside the image -> text), written on install and
        #: removed by `remove_image_files` (the images outlive the pool: other tests must not see them).
        self.image_files: dict[str, str] = {}

    # --- set-up ---------------------------------------------------------------------------------
    def write_hosts(self) -> None:
        """The central managers' names and this host's own name on 127.0.0.1 (an unresolvable own name
        cost HTCondor's tools a DNS timeout of up to 0.5 s per call)."""
        cms = [_maybe(self.fragments, f"CONFGEN_CENTRAL_MANAGER{i}") for i in (1, 2)]
        names = " ".join(n for n in [*cms, "localhost", HOSTNAME] if n)
        other = f"{self.execute_host[0]} {self.execute_host[1]}\n" if self.execute_host else ""
        self.root.write("/etc/hosts", f"127.0.0.1 {names}\n{other}")

    def install(self) -> None:
        r = self.root
        self.write_hosts()
        runtime = _maybe(self.fragments, "SINGULARITY")
        assert runtime == "/usr/bin/apptainer", f"SINGULARITY = {runtime}: the test machine has the real apptainer at /usr/bin/apptainer"
        install_images(r, self.images().values())
        for image in self.images().values():
            for inside, text in self.image_files.items():
                r.write(f"{image}{inside}", text)
        r.write(PROBE, PROBE_SCRIPT, 0o755)
        r.write(HEALTH_STATE, "yes\n")
        for f in self.fragments:
            if f.role.startswith("execute-"):
                for cron in ("HEALTH", "REBOOT"):
                    path = _maybe([f], f"STARTD_CRON_{cron}_EXECUTABLE")
                    if path:
                        r.write(path, health_standin(self.health_names) if cron == "HEALTH" else REBOOT_STANDIN, 0o755)
        # The node's own file systems that the site binds into containers (the starter skips a bind
        # whose source does not exist on the node).
        for bind in re.split(r",", (_maybe(self.fragments, "SINGULARITY_BIND_EXPR") or "").strip('"')):
            source = bind.split(":")[0]
            if source and not r.host(source).exists():
                if "." in Path(source).name:
                    r.write(source, "# test file\n")
                else:
                    r.host(source).mkdir(parents=True)

    def configure(self, inst: str, role: str, extra: str = "", overrides: str | None = None) -> dict[str, str]:
        """The instance `inst` reading output/<role>/ (a role or a host kind), then the test overrides:
        COMMON, `overrides` (default: PER_ROLE of the role), the rendered defrag daemons, `extra`."""
        r = self.root
        kind = "execute" if role.startswith("execute-") else role
        r.install_dir(f"{BASE}/{inst}/config.d", role_files(self.fragments, role))
        own_host = f"NETWORK_INTERFACE = {self.execute_host[0]}\n" if kind == "execute" and self.execute_host else ""
        per_role = PER_ROLE[kind] if overrides is None else overrides
        text = COMMON.format(inst=inst) + per_role + own_host + self.rendered_daemons(role) + self.overrides.get(kind, "") + extra
        r.install_dir(f"{BASE}/{inst}/test.d", {"99-confgen-test.conf": text})
        r.write(f"{BASE}/{inst}/condor_config", ROOT_CONFIG.format(base=BASE, inst=inst))
        fresh_local_dir(r, f"{BASE}/{inst}/local")
        return {"CONDOR_CONFIG": f"{BASE}/{inst}/condor_config"}

    def start(self, inst: str, role: str, extra: str = "", overrides: str | None = None) -> None:
        env = self.configure(inst, role, extra, overrides)
        self.root.run("condor_master", env=env)

    def rendered_daemons(self, role: str) -> str:
        """The condor_defrag daemons the role renders (reboot draining), kept in the test's DAEMON_LIST."""
        names = [m.group(1) for f in self.fragments if f.role == role for m in re.finditer(r"^(DEFRAG_\w+)_ARGS = -local-name", f.text, re.M)]
        return f"DAEMON_LIST = $(DAEMON_LIST), {', '.join(names)}\n" if names else ""

    def start_kind(self, inst: str, kind: str, members: Iterable[str]) -> None:
        """ONE instance (one master) reading output/<kind>/ of a host kind that takes the central manager
        and submit roles (and the tools' collector and schedd from now on): the members' PER_ROLE
        overrides, the collector's shared port, and the rendered DAEMON_LIST without HAD/REPLICATION."""
        self.install()
        self.start(inst, kind, overrides=kind_overrides(members, _maybe(role_files_list(self.fragments, kind), "DAEMON_LIST") or ""))
        self.cm_inst = self.submit_inst = inst
        wait_for("the collector", lambda: self.status("-collector", "-af", "Name"), timeout=60)
        wait_for("the schedd in the collector", lambda: self.status("-schedd", "-af", "Name"), timeout=60)

    def start_central_and_submit(self) -> None:
        self.install()
        self.start("cm", "central-manager")
        self.start("submit", "submit")
        wait_for("the collector", lambda: self.status("-collector", "-af", "Name"), timeout=60)
        wait_for("the schedd in the collector", lambda: self.status("-schedd", "-af", "Name"), timeout=60)

    def start_execute(self, role: str, name: str | None = None, extra: str = "") -> None:
        """The execute instance of `role`; with a name, one more startd of its own (STARTD_NAME = name, its
        own shared port and local directory) beside the others, standing for another node of the class."""
        if name is not None:
            self.start_named_execute(role, name, extra)
            return
        self.stop_execute()
        self.execute_role = role
        self.start("exec", role)
        wait_for(f"a slot of {role}", lambda: self.status("-af", "SiteNodeClass"), timeout=90)

    def stop_execute(self) -> None:
        if self.execute_role is None:
            return
        for pid in self.root.processes():
            try:
                cmdline = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if f"{BASE}/exec/condor_config".encode() in cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.remove_all_jobs()
        # A killed startd cannot withdraw its ad: withdraw it for it, so the next class starts alone.
        self.root.run("condor_advertise", "INVALIDATE_STARTD_ADS", "/dev/stdin", env=self.env(self.cm_inst), input='MyType = "Query"\nTargetType = "Machine"\nRequirements = true\n', check=False)
        wait_for("the old slot to leave the collector", lambda: not self.status("-af", "SiteNodeClass"), timeout=30)
        self.execute_role = None

    def start_named_execute(self, role: str, name: str, extra: str = "") -> None:
        assert re.fullmatch(r"[a-z][a-z0-9]*", name) and name not in ("cm", "submit", "exec"), name
        port = self.named.setdefault(name, 9640 + len(self.named))
        self.start(name, role, f"SHARED_PORT_PORT = {port}\nSTARTD_NAME = {name}\n{extra}")
        wait_for(f"a slot of {role} named {name}", lambda: self.status("-const", f'regexp("@{name}@", Name)', "-af", "SiteNodeClass"), timeout=90)

    def instance_pids(self, inst: str) -> list[int]:
        pids = []
        for pid in self.root.processes():
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if f"{BASE}/{inst}/condor_config".encode() in environ:
                pids.append(pid)
        return pids

    def stop_named_execute(self, name: str, timeout: float = 60) -> None:
        """Shut the named instance down as a reboot does: SIGTERM to its master (a graceful shutdown, the
        startd withdraws its ads), then whatever is left is killed."""
        for pid in self.instance_pids(name):
            with contextlib.suppress(ProcessLookupError, OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip() == "condor_master":
                    os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(AssertionError):
            wait_for(f"instance {name} to stop", lambda: not self.instance_pids(name), timeout=timeout)
        for pid in self.instance_pids(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    # --- tools ----------------------------------------------------------------------------------
    def env(self, inst: str) -> dict[str, str]:
        return {"CONDOR_CONFIG": f"{BASE}/{inst}/condor_config"}

    def status(self, *args: str) -> str:
        return self.root.run("condor_status", *args, env=self.env(self.cm_inst), check=False).stdout.strip()

    def submit(self, description: str, user: str = SUBMITTER, *extra: str):  # type: ignore[no-untyped-def]
        self.root.write(f"/home/{user}/job.sub", description)
        return self.root.run("condor_submit", *extra, f"/home/{user}/job.sub", env=self.env(self.submit_inst), user=user, check=False)

    def q(self, *args: str) -> str:
        return self.root.run("condor_q", "-allusers", *args, env=self.env(self.submit_inst), check=False).stdout

    def job_status(self, cluster: int) -> str:
        out = self.root.run("condor_q", "-allusers", f"{cluster}", "-af", "JobStatus", env=self.env(self.submit_inst), check=False).stdout.strip()
        if out:
            return {"1": "idle", "2": "running", "5": "held"}.get(out, out)
        hist = self.root.run("condor_history", f"{cluster}", "-af", "JobStatus", "-limit", "1", env=self.env(self.submit_inst), check=False).stdout.strip()
        return {"4": "completed", "3": "removed"}.get(hist, hist or "unknown")

    def remove_all_jobs(self) -> None:
        self.root.run("condor_rm", "-all", env=self.env(self.submit_inst), user=SUBMITTER, check=False)

    def images(self) -> dict[str, str]:
        """OS name -> image path, as the execute roles set them (`<OS>_DEFAULT_IMAGE = path`)."""
        found = {}
        for f in self.fragments:
            for line in f.text.split("\n"):
                m = re.match(r"^(\w+)_DEFAULT_IMAGE = (\S+)$", line)
                if m and f.role.startswith("execute-"):
                    found[m.group(1)] = m.group(2)
        return found

    def remove_image_files(self) -> None:
        for image in self.images().values():
            for inside in self.image_files:
                self.root.host(f"{image}{inside}").unlink(missing_ok=True)

    def set_health(self, healthy: bool) -> None:
        self.root.write(HEALTH_STATE, "yes\n" if healthy else "no\n")

    def slot_attr(self, attr: str) -> str:
        return self.status("-af", attr)


def role_files_list(fragments: list[Fragment], role: str) -> list[Fragment]:
    return [f for f in fragments if f.role == role]


def kind_overrides(members: Iterable[str], daemon_list: str) -> str:
    """Test overrides of one instance of a host kind: the PER_ROLE lines of its members (the central
    manager's win: its shared port is the collector's address), and DAEMON_LIST as rendered but without
    HAD and REPLICATION (one host: no high availability, as PER_ROLE's central manager)."""
    knobs: dict[str, str] = {}
    members = list(members)
    ordered = sorted(members, key=lambda m: m == "central-manager")  # the central manager's lines last: they win
    for member in ordered:
        for line in PER_ROLE["execute" if member.startswith("execute-") else member].splitlines():
            name, _, value = line.partition("=")
            knobs[name.strip()] = value.strip()
    if "central-manager" in members:
        knobs.pop("SHARED_PORT_PORT", None)
    knobs["DAEMON_LIST"] = ", ".join(d for d in re.split(r"[,\s]+", daemon_list) if d and d not in ("HAD", "REPLICATION"))
    return "".join(f"{k} = {v}".rstrip() + "\n" for k, v in knobs.items())


def fresh_local_dir(root: Root, local: str) -> None:
    """An instance's LOCAL_DIR, empty, with its run, log, lock, spool and execute directories, owned by condor."""
    path = root.host(local)
    if path.exists():
        shutil.rmtree(path)
    for sub in ("run", "log", "lock", "spool", "execute"):
        (path / sub).mkdir(parents=True)
    root.run("chown", "-R", "condor:condor", local)
    root.run("chmod", "755", f"{local}/execute")


def _maybe(fragments: list[Fragment], name: str) -> str | None:
    """The value of the first `NAME = value` line in the fragments, or None."""
    for f in fragments:
        for line in f.text.split("\n"):
            if line.startswith(name + " ="):
                return line.split("=", 1)[1].strip()
    return None


def cluster_of(submit_stdout: str) -> int:
    m = re.search(r"submitted to cluster (\d+)", submit_stdout)
    assert m, submit_stdout
    return int(m.group(1))


def wait_job(pool: Pool, cluster: int, states: set[str], timeout: float = 90) -> str:
    return wait_for(f"job {cluster} to be {'/'.join(sorted(states))}", lambda: (s := pool.job_status(cluster)) in states and s, timeout=timeout)
