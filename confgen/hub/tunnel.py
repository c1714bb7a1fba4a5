"""A notebook's tunnel: condor_ssh_to_job port forwarding from the hub host into the running job.

Execute points take no inbound connections; `condor_ssh_to_job` reaches the job through HTCondor's
own connection brokering (CCB), and `ssh -L` forwards a UNIX socket in the server's private
directory on the hub host to 127.0.0.1:<remote> inside the job, where the notebook listens. The TCP
port JupyterHub's proxy talks to is held by the server's relay (confgen.hub.relay), never by ssh: a
port ssh binds later could be bound first by any local user.

What this module makes sure of (each was a defect of the upstream proposal, batchspawner PR #200):
- one Tunnel per user server, owned by its spawner: no tunnel list shared between users;
- the tunnel's stdin is a pipe held open for its whole life (never closed, never /dev/null), and
  ssh runs with -N, so nothing ends it but `close()`, on any Python version;
- it runs in its own process group: `close()` ends sudo, condor_ssh_to_job and ssh together, waits
  for them, and escalates to SIGKILL; at interpreter exit every open tunnel is closed;
- a group left behind by a hub that was killed is found again from the saved pid (`kill_stale`),
  so a restarted hub can open the tunnel again;
- the tunnel counts as open only when a process of its own group listens on its socket (from
  /proc/net/unix and the group's descriptors), never because something answers;
- ssh reads no configuration of the user's (`-F /dev/null`: a `Match exec` in ~/.ssh/config would run
  on the hub host) and gets only the environment its caller allows (confgen.hub.environment);
- no blocking sleep: every wait is an `await`.

Standard library only.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import signal
import socket
import time
import weakref
from collections.abc import Sequence
from pathlib import Path

TOOL = "condor_ssh_to_job"
#: ssh options of the tunnel. -F /dev/null: neither ~/.ssh/config nor /etc/ssh/ssh_config (a `Match exec`
#: or `ProxyCommand` there would run on the hub host). condor_ssh_to_job appends its own User,
#: IdentityFile, known hosts and ProxyCommand after these (ssh takes the first value of an option, so
#: none of those is set here).
SSH_OPTIONS = (
    "-F", "/dev/null", "-N", "-oExitOnForwardFailure=yes", "-oServerAliveInterval=15", "-oServerAliveCountMax=4",
    "-oStreamLocalBindUnlink=yes", "-oStreamLocalBindMask=0177", "-oIdentitiesOnly=yes", "-oPermitLocalCommand=no",
    "-oForwardAgent=no", "-oForwardX11=no", "-oControlMaster=no", "-oControlPath=none", "-oUpdateHostKeys=no",
)
#: condor_ssh_to_job splits -ssh at blanks and expands %; ssh -L splits at ':'; sun_path holds 107 bytes.
_SOCKET_PATH = re.compile(r"/[A-Za-z0-9_./-]{1,106}")
_JOB_ID = re.compile(r"[0-9]+(\.[0-9]+)?")
_OPEN: weakref.WeakSet[Tunnel] = weakref.WeakSet()


class TunnelError(RuntimeError):
    pass


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (for tests; the spawner's port is held by its relay)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def command(job_id: str, socket_path: str, remote_port: int, prefix: Sequence[str] = ()) -> list[str]:
    """The tunnel's argv: `prefix` switches to the job's owner (sudo -u <user>), whose job it must be."""
    if not (_JOB_ID.fullmatch(job_id) and _SOCKET_PATH.fullmatch(socket_path) and 1 <= remote_port <= 65535):
        raise TunnelError(f"bad tunnel parameters: job {job_id!r}, socket {socket_path!r}, port {remote_port!r}")
    ssh = " ".join(("ssh", *SSH_OPTIONS, "-L", f"{socket_path}:127.0.0.1:{remote_port}"))
    # -auto-retry: the schedd learns the starter's address a moment after the job runs.
    return [*prefix, TOOL, "-auto-retry", "-ssh", ssh, job_id]


class Tunnel:
    def __init__(self, job_id: str, socket_path: str, remote_port: int, prefix: Sequence[str] = ()):
        self.argv = command(job_id, socket_path, remote_port, prefix)
        self.job_id, self.socket_path, self.remote_port = job_id, socket_path, remote_port
        self.proc: asyncio.subprocess.Process | None = None
        self._stderr = bytearray()
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def listening(self) -> bool:
        """True if a process of this tunnel's own group listens on its socket path."""
        return self.alive() and listens_in_group(self.socket_path, self.pid)

    def stderr_tail(self) -> str:
        return bytes(self._stderr[-2000:]).decode("utf-8", "replace").strip()

    async def open(self, timeout: float = 60.0, env: dict[str, str] | None = None) -> None:
        """Start the tunnel and wait until its own ssh listens on the socket; TunnelError if it cannot."""
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, start_new_session=True, env=env if env is not None else {})
        _OPEN.add(self)
        self._reader = asyncio.ensure_future(self._drain())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not self.alive():
                await asyncio.sleep(0.1)  # let the reader catch the last words
                raise TunnelError(f"{TOOL} to job {self.job_id} ended with status {self.proc.returncode}: {self.stderr_tail() or 'no message'}")
            if listens_in_group(self.socket_path, self.pid):
                return
            await asyncio.sleep(0.2)
        await self.close()
        raise TunnelError(f"{TOOL} to job {self.job_id} did not listen on {self.socket_path} within {timeout:.0f} s: {self.stderr_tail()}")

    async def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(4096):
            self._stderr += chunk
            del self._stderr[:-8000]

    async def close(self, grace: float = 5.0) -> None:
        """End the whole process group and wait for it; safe to call twice."""
        proc = self.proc
        if proc is None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            _signal_group(proc.pid, signal.SIGKILL)
            await proc.wait()
        # ssh may outlive its parent for a moment; the group must be empty before we report closed.
        await _wait_group_gone(proc.pid, grace)
        if proc.stdin is not None:
            proc.stdin.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 1.0)
        _OPEN.discard(self)

    def close_now(self) -> None:
        """Synchronous close, for interpreter exit (the event loop has stopped by then)."""
        if self.proc is not None and self.proc.returncode is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 2.0
            while _group_alive(self.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            _signal_group(self.proc.pid, signal.SIGKILL)


def listens_in_group(socket_path: str, pgid: int) -> bool:
    """True if a live member of process group `pgid` holds a UNIX socket listening on `socket_path`."""
    inodes = unix_listening_inodes(socket_path)
    return bool(inodes) and any(inodes & socket_inodes(pid) for pid in group_members(pgid))


def unix_listening_inodes(socket_path: str) -> set[int]:
    """Inodes of the UNIX sockets listening on `socket_path` (from /proc/net/unix)."""
    found = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
            fields = line.split(None, 7)
            # Flags 00010000: __SO_ACCEPTCON, a listening socket.
            if len(fields) == 8 and fields[7] == socket_path and int(fields[3], 16) & 0x10000:
                found.add(int(fields[6]))
    return found


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process `pid` holds open."""
    found = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    found.add(int(target[8:-1]))
    return found


async def _wait_group_gone(pgid: int, grace: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while _group_alive(pgid) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)
    deadline = loop.time() + 1.0  # SIGKILL takes effect at once, but the processes leave a moment later
    while _group_alive(pgid) and loop.time() < deadline:
        await asyncio.sleep(0.02)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return bool(group_members(pgid))


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


async def kill_stale(pid: int, job_id: str) -> bool:
    """End a tunnel group a previous hub left behind, if `pid` still leads one for `job_id`. True if it did.
    Waits for the group with `await` (a group that ignores SIGTERM takes the whole grace period)."""
    if pid <= 0:
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not any(a.endswith(TOOL.encode()) for a in argv) or job_id.encode() not in argv:
        return False
    _signal_group(pid, signal.SIGTERM)
    await _wait_group_gone(pid, 5.0)
    return True


@atexit.register
def _close_all() -> None:
    for tunnel in list(_OPEN):
        tunnel.close_now()
