"""A pseudo-terminal for a real interactive program (here `condor_submit -interactive`): the test holds
the master side of a pty made by os.openpty, the program gets the slave side as its stdin, stdout,
stderr and controlling terminal, exactly as under a terminal emulator.

Nothing here can hang a test: every read has a deadline, and `close()` ends the program's whole
process group (it is a session of its own) whatever state it is in.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Sequence

ROWS, COLS = 40, 200  # wide enough that the shell never wraps a command line


def _controlling_terminal() -> None:
    """preexec_fn: the child is a new session (start_new_session); make its stdin (the pty's slave
    side) its controlling terminal, as login(1) does."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A program running under a pty. `transcript` keeps everything the program wrote."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.started = time.monotonic()
        try:
            self.proc = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                                         preexec_fn=_controlling_terminal, close_fds=True)
        finally:
            os.close(slave)
        self.transcript = ""
        self._pos = 0  # what `expect` has consumed of the transcript
        self._marks = itertools.count(1)

    def _read(self, deadline: float) -> bool:
        """Read what is there (waiting until the deadline); False when the program closed the pty."""
        wait = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every slave side is closed
            return False
        if not data:
            return False
        self.transcript += data.decode("utf-8", "replace")
        return True

    def expect(self, pattern: str, timeout: float) -> re.Match[str]:
        """Wait until the output after what was consumed matches `pattern` (a regex); consume up to
        the end of the match."""
        regex = re.compile(pattern, re.DOTALL)
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.transcript, self._pos)
            if m:
                self._pos = m.end()
                return m
            if time.monotonic() >= deadline or not self._read(deadline):
                raise AssertionError(f"no {pattern!r} after {timeout:.0f} s; the terminal showed:\n{self.transcript[-3000:]}")

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def run(self, command: str, timeout: float = 20) -> str:
        """Run a shell command line in the session; its output (without the echoed command line,
        newlines as \\n). The marks are printed by arithmetic expansion, so the echo of the command
        line itself never matches them."""
        n = next(self._marks)
        self.send(f'echo "@@B$(({n}))@@"; {command}; echo "@@E$(({n}))@@"\r')
        m = self.expect(rf"@@B{n}@@\r?\n(.*?)@@E{n}@@", timeout)
        return m.group(1).replace("\r\n", "\n")

    def wait(self, timeout: float) -> int | None:
        """The program's exit code, reading (and keeping) its output meanwhile; None if it still runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            self._read(min(deadline, time.monotonic() + 0.2))
        with contextlib.suppress(OSError):
            while select.select([self.master], [], [], 0)[0] and self._read(time.monotonic()):
                pass
        return self.proc.poll()

    def close(self) -> None:
        """End the program and everything it started in its session, then the pty."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        with contextlib.suppress(OSError):
            os.close(self.master)
