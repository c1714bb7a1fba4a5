"""kill_stale ends a tunnel group a previous hub left behind without freezing the hub's event loop,
even when the group ignores SIGTERM. The group is a STAND-IN (named as such): `sh` with the tunnel's
argv shape (condor_ssh_to_job and the job id among its arguments), no HTCondor needed."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from confgen.hub.tunnel import group_members, kill_stale


async def _ticks_while(coro: asyncio.Future[bool] | asyncio.Task[bool]) -> tuple[bool, float]:
    """Run `coro`, and a ticker every 20 ms; the longest gap between ticks shows a blocked loop."""
    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def tick() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.02)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticker = asyncio.ensure_future(tick())
    try:
        result = await coro
    finally:
        ticker.cancel()
    return result, max(gaps, default=0.0)


def _started(argv: list[str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, start_new_session=True)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{proc.pid}/cmdline").read_bytes() == b"" and time.monotonic() < deadline:
        time.sleep(0.01)  # Popen may return before the new program's argv is visible
    return proc


def test_kill_stale_does_not_block_the_event_loop_for_a_group_that_ignores_sigterm() -> None:
    stale = _started(["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done", "condor_ssh_to_job", "42.0"])
    try:
        async def main() -> tuple[bool, float]:
            return await _ticks_while(asyncio.ensure_future(kill_stale(stale.pid, "42.0")))
        ended, longest_gap = asyncio.run(main())
    finally:
        stale.kill()
        stale.wait()
    assert ended is True
    assert not group_members(stale.pid)
    assert longest_gap < 0.5, f"the event loop was blocked for {longest_gap:.1f} s"


def test_kill_stale_leaves_a_process_that_is_not_that_jobs_tunnel_alone() -> None:
    other = _started(["sh", "-c", "sleep 30", "condor_ssh_to_job", "43.0"])
    try:
        assert asyncio.run(kill_stale(other.pid, "42.0")) is False
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
