"""The process that runs HTCondor's config parser (confgen/validate/_child.py): its command line, and
starting it early so that its interpreter start and `import htcondor2` overlap confgen's own loading
and rendering, with the wheel of the series the site file names when it is installed (confgen/wheels.py).
Imports the standard library and confgen.wheels only: imported before the pipeline's heavy modules."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from confgen import wheels

#: The child script; run by path (not `-m confgen...`), so that it imports nothing of confgen.
CHILD_SCRIPT = Path(__file__).resolve().parent / "validate" / "_child.py"

_started: subprocess.Popen[bytes] | None = None
_started_env: dict[str, str] | None = None


def child_command() -> list[str]:
    """The argv of the parser's child: this interpreter, the script's directory not on sys.path (-P)."""
    return [sys.executable, "-P", str(CHILD_SCRIPT)]


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.lower().startswith("_condor_")}


def spawn(env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A parser child with environment `env` (default child_env()): the one started early if it has that
    environment (another, e.g. the wheel of the site's HTCondor series first on PYTHONPATH, needs a new
    child), else a new one."""
    global _started
    wanted = child_env() if env is None else env
    proc, _started = _started, None
    if proc is not None and proc.poll() is None and _started_env == wanted:
        return proc
    if proc is not None:
        discard(proc)
    return subprocess.Popen(child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=wanted)


@contextmanager
def started_early(site_file: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Start a parser child now, for the first spawn() inside the block; one left unused is ended at its end.
    With `site_file`, the child imports the wheel of the series the file seems to name (wheels.guess()).
    Failing to start it early changes nothing: spawn() starts one then and reports what goes wrong."""
    global _started, _started_env
    try:
        _started_env = wheels.with_wheel(child_env(), wheels.guess(site_file) if site_file is not None else None)
        _started = subprocess.Popen(child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_started_env)
    except OSError:
        _started = None
    try:
        yield
    finally:
        proc, _started = _started, None
        if proc is not None:
            discard(proc)


def discard(proc: subprocess.Popen[bytes]) -> None:
    """End an unused child at once (it may still be importing htcondor2: nothing to lose) and reap it."""
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with suppress(OSError):
                stream.close()
    if proc.poll() is None:
        proc.kill()
    proc.wait()
