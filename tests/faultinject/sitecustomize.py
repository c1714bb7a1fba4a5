"""Test-only fault injection, loaded by Python at start-up when this directory is on PYTHONPATH.

CONFGEN_FAULT=kill:K    the process SIGKILLs itself at its K-th fsync (every file confgen writes and
                        every directory it builds or swaps is fsynced, so K walks through every step)
CONFGEN_FAULT=enospc:K  the K-th fsync fails with ENOSPC, as a full disk reports delayed allocation
"""

from __future__ import annotations

import errno
import os
import signal

_spec = os.environ.get("CONFGEN_FAULT", "")
if _spec:
    _mode, _, _at = _spec.partition(":")
    _target = int(_at)
    _calls = 0
    _real_fsync = os.fsync

    def _fsync(fd: int) -> None:
        global _calls
        _calls += 1
        if _calls == _target:
            if _mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        _real_fsync(fd)

    os.fsync = _fsync
