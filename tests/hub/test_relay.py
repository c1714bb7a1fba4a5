"""The relay (confgen.hub.relay) runs as root and connects to a path in a directory its user owns: it
must reach only a socket of that user's, never follow a symlink there to a socket of root's."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from confgen.hub.relay import RelayError, connect_unix

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as the relay runs")


def _listening(path: Path, uid: int) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    os.chown(path, uid, uid)
    s.listen(1)
    return s


def test_the_relay_connects_to_the_users_socket_only(tmp_path: Path) -> None:
    users = _listening(tmp_path / "tunnel.sock", NOBODY)
    roots = _listening(tmp_path / "root.sock", 0)
    try:
        connect_unix(str(tmp_path / "tunnel.sock"), NOBODY).close()
        with pytest.raises(RelayError, match="not a socket of uid"):
            connect_unix(str(tmp_path / "root.sock"), NOBODY)
        os.symlink(tmp_path / "root.sock", tmp_path / "link.sock")
        with pytest.raises(RelayError):
            connect_unix(str(tmp_path / "link.sock"), NOBODY)
        (tmp_path / "file.sock").write_text("")
        os.chown(tmp_path / "file.sock", NOBODY, NOBODY)
        with pytest.raises(RelayError, match="not a socket"):
            connect_unix(str(tmp_path / "file.sock"), NOBODY)
    finally:
        users.close()
        roots.close()
