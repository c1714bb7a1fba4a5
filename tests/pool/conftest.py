"""The real-HTCondor tests: one chroot per session (built or reused by scripts/htcondor-root)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pool.chroot import Root, build_root, mounted_proc


@pytest.fixture(scope="session")
def root() -> Iterator[Root]:
    built = Root(build_root())
    with mounted_proc(built):
        yield built
