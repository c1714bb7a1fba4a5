"""A notebook's tunnel: condor_ssh_to_job port forwarding from the hub host into the running job.

Execute points take no inbound connections; `condor_ssh_to_job` reaches the job through HTCondor's
own connection brokering (CCB), and `ssh -L` forwards 127.0.0.1:<local> on the hub host to
127.0.0.1:<remote> inside the job, where the notebook listens.

What this module makes sure of (each was a defect of the upstream proposal, batchspawner PR #200):
- one Tunnel per user server, owned by its spawner: no tunnel list shared between users;
- the tunnel's stdin is a pipe held open for its whole life (never closed, never /dev/null), and
  ssh runs with -N, so nothing ends it but `close()`, on any Python version;
- it runs in its own process group: `close()` ends sudo, condor_ssh_to_job and ssh together, waits
  for them, and escalates to SIGKILL; at interpreter exit every open tunnel is closed;
- a group left behind by a hub that was killed is found again from the saved pid (`kill_stale`),
  so a restarted hub can open the tunnel again on the same local port.

Standard library only.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import socket
import time
import weakref
from collections.abc import Sequence
from pathlib import Path

TOOL = "condor_ssh_to_job"
_OPEN: weakref.WeakSet[Tunnel] = weakref.WeakSet()


class TunnelError(RuntimeError):
    pass


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def command(job_id: str, local_port: int, remote_port: int, prefix: Sequence[str] = ()) -> list[str]:
    """The tunnel's argv: `prefix` switches to the job's owner (sudo -u <user>), whose job it must be."""
    if not (job_id.replace(".", "").isdigit() and 1 <= local_port <= 65535 and 1 <= remote_port <= 65535):
        raise TunnelError(f"bad tunnel parameters: job {job_id!r}, ports {local_port!r} -> {remote_port!r}")
    forward = f"127.0.0.1:{local_port}:127.0.0.1:{remote_port}"
    ssh = f"ssh -N -oExitOnForwardFailure=yes -oServerAliveInterval=15 -oServerAliveCountMax=4 -L {forward}"
    # -auto-retry: the schedd learns the starter's address a moment after the job runs.
    return [*prefix, TOOL, "-auto-retry", "-ssh", ssh, job_id]


class Tunnel:
    def __init__(self, job_id: str, local_port: int, remote_port: int, prefix: Sequence[str] = ()):
        self.argv = command(job_id, local_port, remote_port, prefix)
        self.job_id, self.local_port, self.remote_port = job_id, local_port, remote_port
        self.proc: asyncio.subprocess.Process | None = None
        self._stderr = bytearray()
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def stderr_tail(self) -> str:
        return bytes(self._stderr[-2000:]).decode("utf-8", "replace").strip()

    async def open(self, timeout: float = 60.0, env: dict[str, str] | None = None) -> None:
        """Start the tunnel and wait until the local port accepts connections; TunnelError if it cannot."""
        if not port_is_free(self.local_port):
            # Something else answers there (a tunnel left behind?): its answers must not count as ours.
            raise TunnelError(f"127.0.0.1:{self.local_port} is already in use; not opening a tunnel to job {self.job_id} there")
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, start_new_session=True, env=env)
        _OPEN.add(self)
        self._reader = asyncio.ensure_future(self._drain())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                await asyncio.sleep(0.1)  # let the reader catch the last words
                raise TunnelError(f"{TOOL} to job {self.job_id} ended with status {self.proc.returncode}: {self.stderr_tail() or 'no message'}")
            if await _accepts(self.local_port):
                return
            await asyncio.sleep(0.2)
        await self.close()
        raise TunnelError(f"{TOOL} to job {self.job_id} did not open 127.0.0.1:{self.local_port} within {timeout:.0f} s: {self.stderr_tail()}")

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
        deadline = time.monotonic() + grace
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        _signal_group(proc.pid, signal.SIGKILL)
        if proc.stdin is not None:
            proc.stdin.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 1.0)
        _OPEN.discard(self)

    def close_now(self) -> None:
        """Synchronous close, for interpreter exit."""
        if self.proc is not None and self.proc.returncode is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 2.0
            while _group_alive(self.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            _signal_group(self.proc.pid, signal.SIGKILL)


async def _accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
    except (TimeoutError, OSError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


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


def kill_stale(pid: int, job_id: str) -> bool:
    """End a tunnel group a previous hub left behind, if `pid` still leads one for `job_id`. True if it did."""
    if pid <= 0:
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not any(a.endswith(TOOL.encode()) for a in argv) or job_id.encode() not in argv:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5.0
    while _group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)
    return True


@atexit.register
def _close_all() -> None:
    for tunnel in list(_OPEN):
        tunnel.close_now()
