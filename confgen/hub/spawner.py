"""SiteCondorSpawner: batchspawner's CondorSpawner, bound to the pool's site.yaml.

- The options form is drawn from output/jupyterhub/spawner-options.json; every spawn, from the form
  or the REST API, is checked against it (`apply_user_options`, JupyterHub >= 5.3; and again in
  `start` and just before the submit description is written). A refusal is an HTTP 400 whose message
  the user sees; nothing is submitted.
- Notebooks are interactive jobs with the site's job attributes, so the pool's submit requirements
  and image choice apply to them unchanged (confgen.hub.description).
- The hub's API token never enters the job ad: it travels in the job's private executable.
- The hub reaches the notebook through a condor_ssh_to_job tunnel per server (confgen.hub.tunnel),
  opened after the job reports its port, re-opened when it is found down (for example after a hub
  restart), closed with the server. ssh forwards a UNIX socket in the server's private directory;
  the TCP port the proxy uses is bound by the hub and held by the server's relay (confgen.hub.port),
  so no other local user can take it.
- Every command (condor_submit, condor_q, condor_rm, condor_ssh_to_job, batchspawner's own included)
  runs with an allow-listed environment (confgen.hub.environment): no secret of the hub's reaches it.
- Files for the user are written through descriptors below a checked state directory
  (confgen.hub.private_files): nothing is chowned through a symlink.
- batchspawner's port API (`POST /hub/api/batchspawner`) is replaced by one that accepts only a port:
  upstream's sets any spawner attribute the job names, `exec_prefix` included, from inside the job.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

from batchspawner import CondorSpawner
from batchspawner.batchspawner import format_template
from jupyterhub.apihandlers import APIHandler, default_handlers
from tornado import web
from traitlets import Float, Integer, List, Unicode, default

from confgen.hub import options as hub_options
from confgen.hub import port, private_files
from confgen.hub.description import ENVIRONMENT_VARIABLE, notebook_script, submit_description
from confgen.hub.environment import command_environment
from confgen.hub.tunnel import Tunnel, TunnelError, kill_stale

#: Environment variables of the notebook that come from the hub (the rest belongs to the job's node).
_HUB_ENV_PREFIXES = ("JUPYTERHUB_", "JPY_")
#: Account names the spawner runs commands as (through a shell, as batchspawner does); fullmatch only:
#: `$` would let a name end in a newline, which the shell takes as the end of the command.
_USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
#: The tunnel's UNIX socket, in the server's private directory.
SOCKET_NAME = "tunnel.sock"



#: What condor_q prints when it could not ask the schedd (not an empty answer: the job's absence).
UNKNOWN_QUERY = re.compile(r"(?m)^-- Failed to fetch ads from|^\s*(?:AUTHENTICATE|SECMAN|CEDAR):\d+:|^Error: |Failed to connect to")

class SiteCondorSpawner(CondorSpawner):  # type: ignore[misc]
    site_options_file = Unicode(
        "/etc/jupyterhub/confgen/spawner-options.json",
        help="The spawner options confgen rendered for this pool (output/jupyterhub/spawner-options.json).",
    ).tag(config=True)

    state_dir = Unicode(
        "/var/lib/jupyterhub/confgen-spawner",
        help="Where the spawner keeps each server's private directory (its job's executable until the job runs).",
    ).tag(config=True)

    tunnel_timeout = Float(120.0, help="Seconds to wait for a condor_ssh_to_job tunnel to open.").tag(config=True)
    tunnel_retries = Integer(5, help="Polls in a row that fail to re-open a tunnel before the server is stopped.").tag(config=True)

    command_environment = List(Unicode(), help=(
        "Names of further variables of the hub's environment that condor_* commands and the tunnel get. "
        "They get only PATH, LANG, LANGUAGE, LC_*, TZ, CONDOR_CONFIG, the user's USER, LOGNAME and HOME, "
        "and these; nothing else of the hub's environment (its secrets) reaches them.")).tag(config=True)

    # The notebook listens on the job's loopback only; the hub reaches it through the tunnel.
    ip = Unicode("127.0.0.1").tag(config=True)

    # A condor_q that fails (the schedd busy past the client's deadline, a network error) says nothing
    # about the job: batchspawner's CondorSpawner reads it as "job gone" and cancels a pending spawn
    # or drops a running notebook. Seen in the test pool: "-- Failed to fetch ads from: ...
    # AUTHENTICATE:1006:exceeded ... deadline during authentication", then "Cancelling job 1". Such
    # output is "unknown": the spawn keeps waiting (up to start_timeout) and poll() asks again.
    state_unknown_re = Unicode(UNKNOWN_QUERY.pattern, help="condor_q output that means the schedd did not answer.").tag(config=True)

    local_port = Integer(0, help="The port the proxy reaches the server at (127.0.0.1:local_port), held by the relay.")
    remote_port = Integer(0, help="The notebook's port inside the job.")
    tunnel_pid = Integer(0)
    relay_pid = Integer(0)
    server_dir = Unicode("")

    _tunnel: Tunnel | None = None
    _relay: subprocess.Popen[bytes] | None = None
    _site: dict[str, Any] | None = None
    _failed_reopens = 0
    #: The job this spawn submitted, until the spawn has succeeded (see _remove_submitted_job).
    _submitted_job_id = ""

    # -- options -------------------------------------------------------------------------------

    @property
    def site_options(self) -> dict[str, Any]:
        if self._site is None:
            self._site = hub_options.load(self.site_options_file)
        return self._site

    @default("options_form")
    def _options_form_default(self) -> Any:
        def form(spawner: SiteCondorSpawner) -> str:
            return hub_options.form_html(spawner.site_options)
        return form

    def options_from_form(self, formdata: dict[str, list[Any]]) -> dict[str, Any]:
        try:
            raw = hub_options.from_form(self.site_options, formdata)
            return hub_options.check(self.site_options, raw).as_user_options()
        except hub_options.OptionsError as exc:
            raise web.HTTPError(400, "Invalid notebook options: " + "; ".join(exc.problems)) from None

    @default("apply_user_options")
    def _apply_user_options_default(self) -> Any:
        def apply(spawner: SiteCondorSpawner, user_options: Any) -> None:
            spawner.checked_choice(user_options)
        return apply

    def checked_choice(self, user_options: Any = None) -> hub_options.Choice:
        try:
            return hub_options.check(self.site_options, self.user_options if user_options is None else user_options)
        except hub_options.OptionsError as exc:
            raise web.HTTPError(400, "Invalid notebook options: " + "; ".join(exc.problems)) from None

    # -- users ---------------------------------------------------------------------------------

    @default("req_homedir")
    def _req_homedir_default(self) -> str:
        try:
            home: str = pwd.getpwnam(self.user.name).pw_dir
        except KeyError:
            return ""
        return home

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        env["USER"] = self.user.name
        return env

    def _check_user_name(self) -> None:
        if not _USER_NAME.fullmatch(self.user.name):
            raise web.HTTPError(400, f"the user name {self.user.name!r} cannot be used as an account name on the pool")

    def _exec_prefix(self) -> str:
        """batchspawner's exec_prefix (sudo -E -u {username}) for this user; refuses a name a shell could split."""
        self._check_user_name()
        return str(format_template(self.exec_prefix, **self.get_req_subvars()))

    def _prefix(self) -> list[str]:
        return shlex.split(self._exec_prefix())

    def _command_env(self) -> dict[str, str]:
        """The environment of every command run for the user: an allow-list (sudo -E passes it on)."""
        return command_environment(os.environ, self.user.name, self.req_homedir, self.command_environment)

    async def run_command(self, cmd: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        """batchspawner's run_command, for every command it runs (condor_q and condor_rm included), with the
        allow-listed environment whatever it is given: upstream passes the hub's whole environment (None)
        or the notebook's, API token included."""
        self._check_user_name()
        out: str = await super().run_command(cmd, input=input, env=self._command_env())
        return out

    # -- submit --------------------------------------------------------------------------------

    async def submit_batch_script(self) -> str:
        choice = self.checked_choice()
        directory = self._make_server_dir()
        env = {k: v for k, v in self.get_env().items() if k.startswith(_HUB_ENV_PREFIXES) or k in self.environment}
        env["USER"] = self.user.name
        if choice.environment is not None:
            env[ENVIRONMENT_VARIABLE] = choice.environment
        command = [self.batchspawner_singleuser_cmd, *self.cmd, *self.get_args()]
        executable = directory / "notebook"
        self._write_private(executable, notebook_script(env, command), mode=0o700)
        description = submit_description(self.site_options, choice, executable=str(executable), initialdir=str(directory))
        cmd = " ".join((self._exec_prefix(), format_template(self.batch_submit_cmd, **self.get_req_subvars())))
        self.log.info("Submitting notebook job for %s: %s", self._log_name, choice)
        self.log.debug("Submit description:\n%s", description)
        out = await self.run_command(cmd, input=description, env=self._command_env())
        try:
            self.job_id = self.parse_job_id(out)
        except Exception:
            self.job_id = ""
        self._submitted_job_id = str(self.job_id)
        return str(self.job_id)

    def _make_server_dir(self) -> Path:
        try:
            private_files.ensure_state_dir(self.state_dir)
            directory = private_files.make_private_dir(self.state_dir, secrets.token_hex(12), self._owner_ids())
        except private_files.UnsafePathError as exc:
            self.log.error("Refusing to spawn for %s: %s", self._log_name, exc)
            raise web.HTTPError(500, "the notebook service is misconfigured (unsafe state directory); the administrators are told") from None
        self.server_dir = str(directory)
        return directory

    def _write_private(self, path: Path, text: str, mode: int) -> None:
        private_files.write_private(path.parent, path.name, text, mode, self._owner_ids())

    def user_ids(self) -> tuple[int, int] | None:
        """(uid, gid) of the user on this host, who runs condor_submit and owns the server's files."""
        try:
            entry = pwd.getpwnam(self.user.name)
        except KeyError:
            return None
        return entry.pw_uid, entry.pw_gid

    def _owner_ids(self) -> tuple[int, int] | None:
        """Who gets the server's files: its user when the hub runs as root; a hub running as the user keeps them."""
        return self.user_ids() if os.geteuid() == 0 else None

    @property
    def _socket_path(self) -> str:
        return str(Path(self.server_dir) / SOCKET_NAME)

    def _remove_server_dir(self) -> None:
        if self.server_dir and Path(self.server_dir).parent == Path(self.state_dir):
            shutil.rmtree(self.server_dir, ignore_errors=True)
        self.server_dir = ""

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> tuple[str, int]:
        self.checked_choice()  # JupyterHub before 5.3 has no apply_user_options
        self.local_port = self.remote_port = self.tunnel_pid = self.relay_pid = 0
        try:
            _, remote_port = await super().start()
            self.remote_port = int(remote_port)
            # The job is running and has called back: its executable (with the API token) was transferred.
            (Path(self.server_dir) / "notebook").unlink(missing_ok=True)
            self._start_relay(0)
            await self._open_tunnel()
            self._submitted_job_id = ""
        except BaseException:
            await self._close_tunnel()
            await self._end_relay()
            await self._remove_submitted_job()
            raise
        return "127.0.0.1", self.local_port

    async def _remove_submitted_job(self) -> None:
        """A spawn that fails or is cancelled leaves no job in the queue. batchspawner forgets the job id
        when a status query is killed by the cancellation (it reads as a vanished job), and then no stop
        removes it: the job would start later with nobody to reach it."""
        job_id, self._submitted_job_id = self._submitted_job_id, ""
        if not job_id:
            return
        self.job_id = job_id
        try:
            await self.cancel_batch_job()
        except Exception as exc:  # the job may be gone already
            self.log.warning("Removing job %s of %s after a failed spawn: %s", job_id, self._log_name, exc)

    def _start_relay(self, wanted: int) -> None:
        """Bind 127.0.0.1:<wanted> (0: a port the kernel picks) and hand it to a new relay. OSError if taken."""
        uid = (self.user_ids() or (os.geteuid(), 0))[0]
        listener = port.listen(wanted)
        try:
            self.local_port = listener.getsockname()[1]
            self._relay = port.spawn(listener, self._socket_path, uid)
        finally:
            listener.close()  # the relay holds it now
        self.relay_pid = self._relay.pid
        self._save_state()

    async def _end_relay(self) -> None:
        if self.relay_pid and self.server_dir:
            await port.end(self.relay_pid, self._socket_path)
        if self._relay is not None:
            self._relay.poll()  # reaped
            self._relay = None
        self.relay_pid = 0

    async def _ensure_relay(self) -> bool:
        """True if our relay holds the server's port. A relay found gone (killed by someone with the power
        to) is replaced on the same port if no one else took it; the server ends if someone did."""
        if port.holds_port(self.relay_pid, self.local_port, self._socket_path):
            return True
        self.log.warning("The relay of %s (pid %d) does not hold 127.0.0.1:%d; replacing it", self._log_name, self.relay_pid, self.local_port)
        await self._end_relay()
        try:
            self._start_relay(self.local_port)
        except OSError as exc:
            self.log.error("127.0.0.1:%d of %s was taken while its relay was gone (%s): ending the server", self.local_port, self._log_name, exc)
            return False
        return True

    async def _open_tunnel(self) -> None:
        await self._close_tunnel()
        self._tunnel = Tunnel(self.job_id, self._socket_path, self.remote_port, self._prefix())
        self.log.info("Opening tunnel 127.0.0.1:%s (relay) -> %s -> job %s port %s for %s",
                      self.local_port, self._socket_path, self.job_id, self.remote_port, self._log_name)
        try:
            await self._tunnel.open(self.tunnel_timeout, env=self._command_env())
        except TunnelError:
            self._tunnel = None
            raise
        self.tunnel_pid = self._tunnel.pid
        self._save_state()

    def _save_state(self) -> None:
        """Write the state to the hub's database now: a hub killed later must find this tunnel's pid."""
        orm = getattr(self, "orm_spawner", None)
        if orm is not None and self.db is not None:
            orm.state = self.get_state()
            self.db.commit()

    async def _close_tunnel(self) -> None:
        if self._tunnel is not None:
            await self._tunnel.close()
            self._tunnel = None
        elif self.tunnel_pid and self.job_id:
            await kill_stale(self.tunnel_pid, self.job_id)
        self.tunnel_pid = 0

    async def poll(self) -> int | None:
        status: int | None = await super().poll()
        if status is not None:
            await self._close_tunnel()
            await self._end_relay()
            self._remove_server_dir()
            return status
        if self.local_port and self.remote_port and self.state_isrunning() and not await self._ensure_relay():
            return await self._give_up()
        if self.local_port and self.remote_port and self.state_isrunning() and (self._tunnel is None or not self._tunnel.listening()):
            if self._tunnel is None and self.tunnel_pid:
                self.log.info("Tunnel of %s from an earlier hub (group %d): ending it if it still runs", self._log_name, self.tunnel_pid)
            elif self._tunnel is not None:
                self.log.warning("Tunnel of %s ended: %s", self._log_name, self._tunnel.stderr_tail())
            try:
                await self._open_tunnel()
                self._failed_reopens = 0
            except TunnelError as exc:
                self._failed_reopens += 1
                self.log.error("Cannot re-open the tunnel of %s (%d of %d): %s", self._log_name, self._failed_reopens, self.tunnel_retries, exc)
                if self._failed_reopens >= self.tunnel_retries:
                    return await self._give_up()
        return None

    async def _give_up(self) -> int:
        """Unreachable for good: end the job too, so that nothing runs that no one can reach."""
        await self._close_tunnel()
        await self._end_relay()
        await self.cancel_batch_job()
        self._remove_server_dir()
        self.clear_state()
        return 1

    async def stop(self, now: bool = False) -> None:
        await self._close_tunnel()
        await self._end_relay()
        try:
            await super().stop(now=now)
        finally:
            self._remove_server_dir()

    # -- state (survives a hub restart) ----------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super().get_state()
        for key in ("local_port", "remote_port", "tunnel_pid", "relay_pid", "server_dir"):
            if getattr(self, key):
                state[key] = getattr(self, key)
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.local_port = int(state.get("local_port", 0))
        self.remote_port = int(state.get("remote_port", 0))
        self.tunnel_pid = int(state.get("tunnel_pid", 0))
        self.relay_pid = int(state.get("relay_pid", 0))
        self.server_dir = str(state.get("server_dir", ""))

    def clear_state(self) -> None:
        super().clear_state()
        self.local_port = self.remote_port = self.tunnel_pid = self.relay_pid = 0


class PortOnlyAPIHandler(APIHandler):  # type: ignore[misc]
    """`POST /hub/api/batchspawner` from a notebook job: accepts `{"port": <1..65535>}` and nothing else."""

    @web.authenticated
    def post(self) -> None:
        token = self.get_auth_token()
        spawners = getattr(self.current_user, "spawners", {})  # a service has none
        spawner = next((s for s in spawners.values() if s.api_token == token), None)
        if spawner is None:
            raise web.HTTPError(403, "this token belongs to no server")
        try:
            data = json.loads(self.request.body or b"null")
        except ValueError:
            raise web.HTTPError(400, "the body is not JSON") from None
        port = data.get("port") if isinstance(data, dict) else None
        if not isinstance(data, dict) or set(data) != {"port"} or isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise web.HTTPError(400, 'expected exactly {"port": <1..65535>}')
        spawner.port = port
        self.set_status(201)
        self.finish(json.dumps({"message": "port recorded"}))


def _guard_port_api() -> None:
    for i, entry in enumerate(default_handlers):
        if entry[0] == r"/api/batchspawner":
            default_handlers[i] = (r"/api/batchspawner", PortOnlyAPIHandler)


_guard_port_api()
