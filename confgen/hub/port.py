"""The TCP port of a notebook server, as JupyterHub's proxy reaches it: bound by the hub, held by the
server's relay process (confgen.hub.relay) for the server's whole life, checked by the hub.

Why the hub binds it and never ssh: a port ssh binds later — when the tunnel opens, re-opens after it
died, or after a hub restart — is free in between, and any local user can bind it first and receive
the notebook's traffic (the port is visible in `ps`). A port bound once and never released cannot be
taken: without SO_REUSEPORT on our socket the kernel refuses every other bind of it.

Why a separate process: it outlives a hub restart, as the notebook jobs do, so the port is never
free while the proxy may still route to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from confgen.hub import relay
from confgen.hub.tunnel import socket_inodes

SCRIPT = os.path.abspath(relay.__file__)

def listen(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1:port (0: any free port). OSError if the port is taken."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Only to rebind past TIME_WAIT; on Linux it never lets a second socket bind a listening port.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(128)
    except OSError:
        s.close()
        raise
    return s


def spawn(listener: socket.socket, socket_path: str, uid: int) -> subprocess.Popen[bytes]:
    """Start the relay process with `listener`; the caller closes its own copy of the socket."""
    fd = listener.fileno()
    return subprocess.Popen(
        [sys.executable, "-I", SCRIPT, str(fd), socket_path, str(uid)], pass_fds=(fd,), start_new_session=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"}, cwd="/")


def is_relay(pid: int, socket_path: str) -> bool:
    """True if `pid` is a relay process of this hub's account for `socket_path` (not a reused pid)."""
    if pid <= 0:
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return False
    return SCRIPT.encode() in argv and socket_path.encode() in argv and uid == os.geteuid()


def holds_port(pid: int, port: int, socket_path: str) -> bool:
    """True if `pid` is our relay for `socket_path` and holds the socket listening on 127.0.0.1:port:
    then no one else can be listening there."""
    return is_relay(pid, socket_path) and bool(listening_tcp_inodes(port) & socket_inodes(pid))


def listening_tcp_inodes(port: int) -> set[int]:
    """Inodes of the sockets listening on 127.0.0.1:port (from /proc/net/tcp)."""
    wanted = f"0100007F:{port:04X}"
    found = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == wanted and fields[3] == "0A":  # 0A: LISTEN
                found.add(int(fields[9]))
    return found


async def end(pid: int, socket_path: str, grace: float = 5.0) -> None:
    """End our relay `pid` for `socket_path` (anything else with that pid is left alone): SIGTERM, then
    SIGKILL after `grace` seconds; waits without blocking the event loop."""
    if not is_relay(pid, socket_path):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while _running(pid) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is our own child, reaped by its Popen
