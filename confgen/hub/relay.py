"""The hub-side TCP end of a notebook's tunnel: a listening socket no other local user can take.

JupyterHub's proxy needs a TCP `ip:port` for each server. A port that a tunnel binds later (or binds
again after it dies, or after a hub restart) can be bound first by any local user, who then receives
the notebook's traffic. So the hub binds 127.0.0.1:<port> itself (port 0: the kernel picks one; no
SO_REUSEPORT, so no one can share it) and hands the bound socket to this relay, a small process in
its own session that holds it for the server's whole life — across tunnel deaths and hub restarts —
and copies each connection to the tunnel's UNIX socket (`ssh -L <server_dir>/tunnel.sock:…`).

The UNIX socket is in the server's private directory (0700, its user's, below the hub's state
directory), so only that user's processes can create it. The relay runs as root: it opens the socket
path with O_PATH|O_NOFOLLOW, accepts it only if it is a socket owned by the user, and connects through
that descriptor (/proc/self/fd/N), so a symlink there cannot send it to a socket of root's.

The relay ends when the hub ends it or when the server's private directory is gone.

The hub starts it and checks it with confgen.hub.port. Run as `python -I relay.py <listening fd>
<socket path> <uid>`; standard library only, and it imports nothing of confgen.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import sys

_CHECK_INTERVAL = 5.0


class RelayError(RuntimeError):
    pass


def connect_unix(socket_path: str, uid: int) -> socket.socket:
    """A connection to the UNIX socket at `socket_path`, only if that is a socket owned by `uid`
    (not a symlink, not another user's socket); RelayError otherwise."""
    try:
        fd = os.open(socket_path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise RelayError(f"{socket_path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISSOCK(st.st_mode) or st.st_uid != uid:
            raise RelayError(f"{socket_path} is not a socket of uid {uid}")
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(f"/proc/self/fd/{fd}")
        except OSError:
            conn.close()
            raise
        return conn
    finally:
        os.close(fd)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        pass


async def _relay(socket_path: str, uid: int, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
    try:
        try:
            conn = connect_unix(socket_path, uid)
        except (OSError, RelayError):
            return  # the tunnel is down: the client sees the connection closed, never someone else
        conn.setblocking(False)
        tunnel_r, tunnel_w = await asyncio.open_connection(sock=conn)
        try:
            await asyncio.gather(_pipe(client_r, tunnel_w), _pipe(tunnel_r, client_w))
        finally:
            tunnel_w.close()
    finally:
        client_w.close()


async def serve(listener: socket.socket, socket_path: str, uid: int) -> None:
    listener.setblocking(False)
    server = await asyncio.start_server(lambda r, w: _relay(socket_path, uid, r, w), sock=listener)
    directory = os.path.dirname(socket_path)
    async with server:
        while os.path.isdir(directory):
            await asyncio.sleep(_CHECK_INTERVAL)


def main(argv: list[str]) -> int:
    fd, socket_path, uid = int(argv[1]), argv[2], int(argv[3])
    listener = socket.socket(fileno=fd)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(serve(listener, socket_path, uid))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
