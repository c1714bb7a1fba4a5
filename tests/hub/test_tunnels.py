"""Notebooks reached through condor_ssh_to_job, in the loopback pool of real HTCondor daemons.

The hub is the real JupyterHub with confgen's spawner. Test-only parts, each named as such: the
notebook (tests/hub/notebook-standin, a small HTTP server, run by the real Apptainer in the image of
the OS asked for), the proxy (tests/hub/standin_proxy.py), the exec_prefix that switches to the
user inside the test machine and records the environment it is given (tests/hub/as-user), the uid lookup
in the machine's root (tests/hub/chroot_spawner.py), and another local user who tries to take the tunnels
(tests/hub/port-thief, uid 65534 on the hub host, running for the whole module).
Everything else is what a hub host runs: condor_submit, condor_q, condor_rm and condor_ssh_to_job
as the user, ssh, the relay holding each server's port, and the starter's sshd.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from confgen.hub import port
from confgen.hub.spawner import SOCKET_NAME
from confgen.hub.tunnel import group_members
from confgen.render import render_site
from confgen.site.model import Site
from tests.hub.conftest import HUB_SECRETS, write_hub_files
from tests.hub.hub import Hub
from tests.hub.test_spawner_options import good_form
from tests.pool.chroot import SUBMITTER, Root, wait_for
from tests.pool.pool import Pool

HERE = Path(__file__).parent
USERS = (SUBMITTER, "confgen-user2")  # both created by scripts/htcondor-root
STANDIN = "/usr/local/bin/confgen-notebook-standin"
NOBODY = 65534
#: Written to each user's ~/.ssh/config in the chroot: ssh would run it on the hub host as the user.
MATCH_EXEC_MARK = "/tmp/confgen-match-exec-ran"
SSH_CONFIG = f"""Match exec "env > {MATCH_EXEC_MARK}.%r; true"
    ServerAliveInterval 1
Host *
    PermitLocalCommand yes
    LocalCommand touch {MATCH_EXEC_MARK}.local.%r
"""


def _argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def spawner_processes(root: Root) -> list[tuple[int, str]]:
    """Live processes of a tunnel: condor_ssh_to_job and the ssh it runs (zombies excluded), among the
    processes of the test machine only (as-user runs them there), not every ssh of the host."""
    found = []
    for pid in root.processes():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        argv = _argv(pid)
        if state != "Z" and argv and os.path.basename(argv[0]) in ("ssh", "condor_ssh_to_job"):
            found.append((pid, " ".join(argv)))
    return found


def relay_processes(under: Path) -> list[int]:
    """Relay processes of the servers below `under`."""
    return [pid for pid in (int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit())
            if port.SCRIPT in _argv(pid) and any(a.startswith(str(under)) for a in _argv(pid))]


class Thief:
    """The port-thief STAND-IN, as uid 65534."""

    def __init__(self) -> None:
        self.dir = directory = Path(tempfile.mkdtemp(prefix="confgen-thief-"))  # pytest's tmp dirs are root's alone
        os.chmod(directory, 0o777)
        (directory / "targets").write_text("")
        def as_nobody() -> None:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        self.proc = subprocess.Popen([str(HERE / "port-thief")], env={"THIEF_DIR": str(directory), "PATH": "/usr/bin:/bin"},
                                     preexec_fn=as_nobody, start_new_session=True)
        wait_for("the thief to start", lambda: "started as uid 65534" in self.log(), timeout=20)

    def target(self, *items: object) -> None:
        with open(self.dir / "targets", "a") as f:
            f.writelines(f"{i}\n" for i in items)

    def forget(self) -> None:
        (self.dir / "targets").write_text("")
        time.sleep(0.1)  # the thief's next round

    def log(self) -> str:
        path = self.dir / "log"
        return path.read_text() if path.exists() else ""

    def stolen(self) -> list[str]:
        return [line for line in self.log().splitlines() if not line.startswith("started")]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def fetch(port: int, path: str = "/") -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            body: str = resp.read().decode()
            return body
    except OSError:
        return None


@pytest.fixture(scope="module")
def hub_in_pool(root: Root, shipped_site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, Pool]]:
    site = shipped_site
    work = tmp_path_factory.mktemp("hub-in-pool")
    servers = work / "servers"
    servers.mkdir()
    # The spawner's private directories must have the same path for the hub and inside the test
    # machine: bound into the root, then the machine started afresh (it takes the root's mounts along).
    root.host(str(servers)).mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(servers), str(root.host(str(servers)))], check=True)
    root.kill_all()
    pool = Pool(root, render_site(site))
    pool.start_central_and_submit()
    # A class that takes notebooks of the default OS.
    cls = next(c for c in site.notebook_classes() if site.default_os in c.images)
    pool.start_execute(cls.role)
    for where in ("", *pool.images().values()):  # the job runs it inside its container
        root.write(where + STANDIN, (HERE / "notebook-standin").read_text(), 0o755)
    snippet, options = write_hub_files(site, work / "confgen")
    record = work / "record"
    record.mkdir()
    for user in USERS:
        root.write(f"/home/{user}/.ssh/config", SSH_CONFIG)
        for mark in root.host("/tmp").glob(Path(MATCH_EXEC_MARK).name + "*"):
            mark.unlink()
    env = {"CONFGEN_CHROOT": str(root.path), "CONFGEN_MACHINE": str(root.machine.init), "CONFGEN_CONDOR_CONFIG": pool.env("submit")["CONDOR_CONFIG"],
           "CONFGEN_RECORD_DIR": str(record), **HUB_SECRETS}
    hub = Hub(work, snippet, options, env=env, extra=f"""
c.JupyterHub.spawner_class = "tests.hub.chroot_spawner.ChrootSiteCondorSpawner"
c.SiteCondorSpawner.exec_prefix = "{HERE / 'as-user'} {{username}}"
c.SiteCondorSpawner.command_environment = ["CONFGEN_MACHINE", "CONFGEN_CONDOR_CONFIG", "CONFGEN_RECORD_DIR"]  # what as-user reads
c.SiteCondorSpawner.batchspawner_singleuser_cmd = "/usr/bin/python3"
c.Spawner.cmd = ["{STANDIN}"]
c.Spawner.poll_interval = 2
c.JupyterHub.hub_connect_ip = "127.0.0.1"
""")
    hub.record = record  # type: ignore[attr-defined]
    hub.thief = Thief()  # type: ignore[attr-defined]
    hub.start()
    try:
        for user in USERS:
            hub.add_user(user)
        yield hub, pool
    finally:
        hub.stop()
        hub.thief.stop()  # type: ignore[attr-defined]
        shutil.rmtree(hub.thief.dir, ignore_errors=True)  # type: ignore[attr-defined]
        pool.remove_all_jobs()
        subprocess.run(["umount", "-l", str(root.host(str(servers)))], check=False)
        for pid, _ in spawner_processes(pool.root):
            os.kill(pid, signal.SIGKILL)
        for pid in relay_processes(servers):
            os.kill(pid, signal.SIGKILL)
        for user in USERS:
            root.host(f"/home/{user}/.ssh/config").unlink()


def state(hub: Hub, user: str) -> dict[str, Any]:
    server = hub.server(user)
    assert server is not None, f"{user} has no server"
    result: dict[str, Any] = server["state"]
    return result


def test_each_users_notebook_answers_through_its_own_tunnel_and_the_token_stays_out_of_the_ad(hub_in_pool: tuple[Hub, Pool], root: Root, shipped_site: Site) -> None:
    hub, pool = hub_in_pool
    site = shipped_site
    # The first user posts the form with an OS other than the default; the second spawns through the
    # REST API with no options (the site's defaults).
    running = next(c for c in site.notebook_classes() if c.role == pool.execute_role)
    chosen = next(os for os in running.images if os != site.default_os)
    form = {**good_form(site), "os": chosen}
    code, _ = hub.browser(USERS[0]).post_spawn(form)
    assert code == 302, hub.log_tail()
    code, body = hub.api("POST", f"/users/{USERS[1]}/server", {"user_options": {}})
    assert code in (201, 202), body
    for user in USERS:
        hub.wait_ready(user, timeout=240)
    states = {u: state(hub, u) for u in USERS}
    # The real starter ran each notebook in the image of the OS it asked for (as the notebook reads
    # the image's marker inside its container).
    images = {u: fetch(states[u]["local_port"], "/confgen-standin/image") for u in USERS}
    assert images == {USERS[0]: site.images[chosen], USERS[1]: site.images[site.default_os]}, images
    ad = root.run("condor_q", "-allusers", states[USERS[0]]["job_id"], "-af", site.job_attribute, "RequestCpus", "InteractiveJob", env=pool.env("submit")).stdout.split()
    assert ad == [chosen, form["cpus"], "true"]
    assert len({s["local_port"] for s in states.values()}) == 2 and len({s["tunnel_pid"] for s in states.values()}) == 2
    for user, st in states.items():
        assert fetch(st["local_port"], f"/user/{user}/") == f"stand-in notebook of {user} at /user/{user}/"
        # One tunnel per server, in its own process group: condor_ssh_to_job and ssh, for this job only.
        members = group_members(st["tunnel_pid"])
        argvs = [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode() for pid in members]
        assert any("condor_ssh_to_job" in a and st["job_id"] in a for a in argvs), argvs
        sock = f"{st['server_dir']}/{SOCKET_NAME}"
        assert any(a.startswith("ssh -F /dev/null ") and f"-L {sock}:127.0.0.1:{st['remote_port']}" in a for a in argvs), argvs
        # The proxy's port is held by the server's relay, not by anything of the tunnel.
        assert port.holds_port(st["relay_pid"], st["local_port"], sock)
        # The job's executable held the token: gone from the hub's disk once the job runs.
        assert not (Path(st["server_dir"]) / "notebook").exists()
        token = fetch(st["local_port"], "/confgen-standin/token")
        assert token and len(token) >= 16
        for who in ("root", *USERS):
            ad = root.run("condor_q", "-allusers", "-long", st["job_id"], env=pool.env("submit"), user=None if who == "root" else who).stdout
            assert f"ClusterId = {st['job_id']}" in ad and "InteractiveJob = true" in ad
            assert token not in ad and "JUPYTERHUB_API_TOKEN" not in ad, f"the token is in the job ad ({who})"
        print(f"{user}: job {st['job_id']}, 127.0.0.1:{st['local_port']} -> job port {st['remote_port']}, tunnel group {st['tunnel_pid']}: {len(members)} processes")


def test_a_job_cannot_reconfigure_its_spawner_through_the_port_api(hub_in_pool: tuple[Hub, Pool], root: Root) -> None:
    hub, _ = hub_in_pool
    st = state(hub, SUBMITTER)
    token = fetch(st["local_port"], "/confgen-standin/token")
    assert token
    url = f"{hub.url}/hub/api/batchspawner"
    for body in ({"exec_prefix": "touch /tmp/confgen-pwned;"}, {"port": 1, "batch_cancel_cmd": "true"}, {"port": "1"}, [1]):
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=10)
            code = 201
        except urllib.error.HTTPError as exc:
            code = exc.code
        assert code == 400, f"{body} was accepted"
    assert fetch(st["local_port"], "/") is not None


def test_a_dead_tunnel_is_reopened_and_the_other_users_tunnel_is_untouched(hub_in_pool: tuple[Hub, Pool]) -> None:
    """While the tunnel is down, another local user (the thief) tries to bind its port and its socket."""
    hub, _ = hub_in_pool
    first, second = (state(hub, u) for u in USERS)
    hub.thief.target(first["local_port"], f"{first['server_dir']}/{SOCKET_NAME}")  # type: ignore[attr-defined]
    os.killpg(first["tunnel_pid"], signal.SIGKILL)
    seen_second = []
    def reopened() -> bool:
        seen_second.append(fetch(second["local_port"], "/") is not None)
        now = state(hub, USERS[0])
        return now.get("tunnel_pid", 0) not in (0, first["tunnel_pid"]) and fetch(now["local_port"], "/") is not None
    wait_for("the killed tunnel to be re-opened by poll", reopened, timeout=60, interval=0.5)
    assert all(seen_second), "the other user's tunnel stopped answering"
    assert fetch(first["local_port"], f"/user/{USERS[0]}/") == f"stand-in notebook of {USERS[0]} at /user/{USERS[0]}/"
    assert hub.thief.stolen() == [], hub.thief.log()  # type: ignore[attr-defined]
    assert state(hub, USERS[0])["local_port"] == first["local_port"]
    assert state(hub, USERS[1])["tunnel_pid"] == second["tunnel_pid"]


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_tunnels_are_reopened_after_a_hub_restart(hub_in_pool: tuple[Hub, Pool], how: str) -> None:
    """While the hub is down, another local user (the thief) tries to bind each server's port: the
    relays hold them, so the proxy, which keeps routing there, never reaches the thief."""
    hub, pool = hub_in_pool
    before = {u: state(hub, u) for u in USERS}
    hub.thief.target(*(st["local_port"] for st in before.values()))  # type: ignore[attr-defined]
    hub.stop(getattr(signal, how))
    if how == "SIGTERM":
        # A hub that exits closes its tunnels; the notebooks keep running (cleanup_servers = False).
        wait_for("the tunnels to close with the hub", lambda: not spawner_processes(pool.root), timeout=20)
    for st in before.values():
        assert pool.job_status(int(st["job_id"])) == "running"
        assert port.holds_port(st["relay_pid"], st["local_port"], f"{st['server_dir']}/{SOCKET_NAME}"), "the relay ended with the hub"
    time.sleep(2)  # the thief's chance, with no hub running
    assert hub.thief.stolen() == [], hub.thief.log()  # type: ignore[attr-defined]
    hub.start()
    for user, st in before.items():
        wait_for(f"{user}'s notebook through a new tunnel", lambda st=st, user=user: fetch(st["local_port"], f"/user/{user}/"), timeout=90)
        now = state(hub, user)
        assert now["local_port"] == st["local_port"] and now["tunnel_pid"] != st["tunnel_pid"]
        assert now["relay_pid"] == st["relay_pid"], "the relay, which held the port, was replaced"
        assert not group_members(st["tunnel_pid"]), f"the old tunnel of {user} is still running"
    # Every tunnel process on the host belongs to a tunnel of the new hub: nothing of the old one is left.
    assert {os.getpgid(pid) for pid, _ in spawner_processes(pool.root)} == {state(hub, u)["tunnel_pid"] for u in USERS}
    assert hub.thief.stolen() == [], hub.thief.log()  # type: ignore[attr-defined]


TUNNEL_ON_OTHER_PYTHON = """
import asyncio, json, os, socket, sys, tempfile
sys.path.insert(0, "/opt/confgen-hub")
import tunnel

def get(path, url):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(f"GET {url} HTTP/1.0\\r\\n\\r\\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.split(b"\\r\\n\\r\\n", 1)[1].decode()

async def main():
    path = os.path.join(tempfile.mkdtemp(), "tunnel.sock")
    t = tunnel.Tunnel(sys.argv[1], path, int(sys.argv[2]))
    await t.open(60, env=dict(os.environ))
    await asyncio.sleep(5)  # a tunnel whose stdin was closed would have ended by now
    alive = t.listening()
    body = await asyncio.to_thread(get, path, "/py")
    pid = t.pid
    await t.close()
    print(json.dumps({"python": sys.version.split()[0], "alive": alive, "body": body, "left": tunnel.group_members(pid)}))

asyncio.run(main())
"""


def test_the_tunnel_works_on_the_chroots_newer_python(hub_in_pool: tuple[Hub, Pool], root: Root) -> None:
    """confgen.hub.tunnel (standard library only) on the chroot's Python (3.14 in Debian sid), against a
    running notebook: open, still alive after 5 s, answers, and closed leaves no process."""
    hub, pool = hub_in_pool
    st = state(hub, USERS[1])
    root.write("/opt/confgen-hub/tunnel.py", (Path(__file__).parents[2] / "confgen" / "hub" / "tunnel.py").read_text())
    out = root.run("python3", "-c", TUNNEL_ON_OTHER_PYTHON, st["job_id"], str(st["remote_port"]), env=pool.env("submit"), user=USERS[1], timeout=120).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert tuple(int(p) for p in result["python"].split(".")[:2]) >= (3, 12), result
    assert result["alive"] is True and result["body"] == f"stand-in notebook of {USERS[1]} at /py"
    assert result["left"] == []
    print(f"tunnel on Python {result['python']}: alive after 5 s, answered, nothing left after close")


def test_stopping_a_server_ends_its_tunnel_and_job_and_leaves_nothing_running(hub_in_pool: tuple[Hub, Pool], root: Root) -> None:
    hub, pool = hub_in_pool
    first, second = (state(hub, u) for u in USERS)
    hub.thief.forget()  # type: ignore[attr-defined]  # a port released with its server belongs to no one
    code, _ = hub.api("DELETE", f"/users/{USERS[0]}/server")
    assert code in (202, 204)
    hub.wait_gone(USERS[0])
    # What is left on the host is the other user's tunnel, and nothing else.
    assert {os.getpgid(pid) for pid, _ in spawner_processes(pool.root)} == {second["tunnel_pid"]}
    assert not group_members(first["tunnel_pid"])
    assert fetch(first["local_port"], "/") is None
    assert wait_for("the job to leave the queue", lambda: pool.job_status(int(first["job_id"])) in ("removed", "completed"), timeout=60)
    assert not Path(first["server_dir"]).exists()
    wait_for("the relay to end", lambda: not relay_processes(Path(first["server_dir"])), timeout=10)
    assert not port.listening_tcp_inodes(first["local_port"]), "the server's port is still held"
    assert fetch(second["local_port"], f"/user/{USERS[1]}/") is not None, "the other user's notebook went down too"
    code, _ = hub.api("DELETE", f"/users/{USERS[1]}/server")
    hub.wait_gone(USERS[1])
    assert spawner_processes(pool.root) == []
    assert relay_processes(Path(second["server_dir"]).parent) == []
    wait_for("the starters' sshd to end", lambda: not [p for p in root.processes() if _argv(p)[:1] and os.path.basename(_argv(p)[0]) == "sshd"], timeout=60)




def test_no_secret_of_the_hub_reaches_any_command_and_no_ssh_configuration_of_the_user_runs(hub_in_pool: tuple[Hub, Pool], root: Root) -> None:
    """Every command the spawner ran as a user (condor_submit, condor_q, condor_rm, condor_ssh_to_job,
    recorded by as-user before it switches user), and the user's ~/.ssh/config with a `Match exec`
    and a LocalCommand, which the tunnels' ssh must not read."""
    hub, _ = hub_in_pool
    records = sorted(hub.record.glob("as-user.*"))  # type: ignore[attr-defined]
    texts = [r.read_text() for r in records]
    tools = {line.split()[1] for t in texts for line in t.splitlines()[:1]}
    assert {"condor_submit", "condor_q", "condor_rm", "condor_ssh_to_job"} <= tools, tools
    for text in texts:
        leaked = [name for name, value in HUB_SECRETS.items() if value in text or f"\n{name}=" in text]
        assert leaked == [], f"{text.splitlines()[0]} got {leaked}"
        assert "JUPYTERHUB_API_TOKEN" not in text
    marks = list(root.host("/tmp").glob(Path(MATCH_EXEC_MARK).name + "*"))
    assert marks == [], f"the user's ~/.ssh/config ran on the hub host: {[m.read_text()[:500] for m in marks]}"
    print(f"{len(records)} commands ({', '.join(sorted(tools))}): no hub secret; ~/.ssh/config never ran")


def test_the_thief_never_took_a_port_or_a_socket(hub_in_pool: tuple[Hub, Pool]) -> None:
    """The thief watched every process's argv and the ports and sockets the tests named, all along."""
    hub, _ = hub_in_pool
    log = hub.thief.log()  # type: ignore[attr-defined]
    assert log.startswith("started as uid 65534")
    assert hub.thief.stolen() == [], log  # type: ignore[attr-defined]
