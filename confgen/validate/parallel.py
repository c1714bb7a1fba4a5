"""Two independent halves of the checks at once, on two processors: the first in a forked copy of this
process, the second here. After HTCondor's parser has read the roles, evaluating the checks is the last
step of `confgen check` and the only one that waits on nothing; the checks of the node classes and the
checks of the pool share no state but caches, so each half runs on its own copy of the loaded roles.

The result is exactly what running them one after the other gives: the first half's value comes back
pickled, and the caller puts it first. Where a copy cannot be made (no fork, another thread running,
the system refuses), or the copy does not send its value back (it raised, or died), the first half runs
here after the second, so an exception in it is raised here, as without the copy.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
from collections.abc import Callable
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")


def both(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """(first(), second()), with first() run in a forked copy of this process while second() runs here."""
    pid, read_fd = _fork(first)
    if pid is None:
        return first(), second()
    try:
        value = second()
    except BaseException:
        _reap(pid, read_fd, kill=True)
        raise
    sent = _reap(pid, read_fd, kill=False)
    return (pickle.loads(sent) if sent is not None else first()), value


def _fork(first: Callable[[], object]) -> tuple[int | None, int]:
    """Start the copy that runs first() and writes its pickled value to a pipe: (its pid, the pipe's
    read end), or (None, -1) when no copy is made."""
    if not hasattr(os, "fork") or threading.active_count() > 1:  # a fork copies one thread only
        return None, -1
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return None, -1
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None, -1
    if pid == 0:  # the copy: never returns, never runs this process's exit handlers or flushes its output
        code = 1
        try:
            os.close(read_fd)
            data = pickle.dumps(first(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def _reap(pid: int, read_fd: int, kill: bool) -> bytes | None:
    """What the copy sent (None if it failed), once it has ended."""
    chunks: list[bytes] = []
    try:
        if kill:
            os.kill(pid, signal.SIGKILL)
        else:
            while chunk := os.read(read_fd, 1 << 20):
                chunks.append(chunk)
    finally:
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
    if kill or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not chunks:
        return None
    return b"".join(chunks)
