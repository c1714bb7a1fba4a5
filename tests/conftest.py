"""Shared helpers: the repository paths, running the CLI in-process, and a text snapshot per file."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import settings
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from confgen.cli import main
from confgen.site import load_site
from confgen.site.model import Site

ROOT = Path(__file__).resolve().parents[1]
SITES = Path(__file__).resolve().parent / "sites"


class TextSnapshot(SingleFileSnapshotExtension):
    """One plain-text file per snapshot, so a review diff reads like real condor config."""

    _write_mode = WriteMode.TEXT
    file_extension = "txt"


class ConfSnapshot(TextSnapshot):
    file_extension = "conf"


@pytest.fixture
def text_snapshot(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(TextSnapshot)


@pytest.fixture
def conf_snapshot(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(ConfSnapshot)


Run = Callable[..., tuple[int, str, str]]


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run `confgen ARGS` in this process; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def run() -> Run:
    """Run `confgen ARGS` in this process; returns (exit code, stdout, stderr)."""
    return run_cli


def site_from_text(text: str) -> Site:
    """Load site.yaml text as the CLI would, its problems reported as site.yaml (raises InputError)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "site.yaml"
        path.write_text(text, encoding="utf-8")
        return load_site(path, display="site.yaml")


def example_text() -> str:
    return (ROOT / "site.yaml").read_text(encoding="utf-8")


sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))


# Hypothesis profiles: `ci` (the default) keeps the property tests within CI's budget;
# `--hypothesis-profile=long` runs many more examples.
settings.register_profile("ci", max_examples=40, deadline=None, print_blob=True)
settings.register_profile("long", max_examples=1500, deadline=None, print_blob=True)
settings.load_profile("ci")


#: Why the tests that run real daemons cannot run here (None: they can). Set once, before any test.
_NO_MACHINES: str | None = None
_SKIPPED_FOR_ROOT: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """The session takes a network and hostname namespace of its own, before any thread starts:
    hubs, pools and free ports are then private to it, whatever else the machine runs."""
    global _NO_MACHINES
    from tests.namespaces import isolate_session

    _NO_MACHINES = isolate_session()


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without root, the tests that run real daemons are left out with one line saying so (see
    pytest_terminal_summary); under CI they stay and fail, since CI must run them."""
    if _NO_MACHINES is None or _ci():
        return
    keep, drop = [], []
    for item in items:
        (drop if "root" in getattr(item, "fixturenames", ()) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
        _SKIPPED_FOR_ROOT.append(f"confgen: {len(drop)} tests of real HTCondor pools were skipped: {_NO_MACHINES} (run as root; with CI=true they fail instead)")


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    for line in _SKIPPED_FOR_ROOT:
        terminalreporter.write_line(line, yellow=True, bold=True)


@pytest.fixture(scope="session")
def root():  # type: ignore[no-untyped-def]
    """The real-HTCondor root, one per session (built or reused by scripts/htcondor-root), running as a
    machine of its own for tests/pool and tests/hub. Ending the machine ends every process in it."""
    if _NO_MACHINES is not None:
        pytest.fail(f"the pool tests need root: {_NO_MACHINES}", pytrace=False)
    from tests.namespaces import stop_all
    from tests.pool.chroot import Root, build_root, running

    built = Root(build_root())
    try:
        with running(built):
            yield built
    finally:
        stop_all()  # also the machines of a test whose fixture failed before it could stop them
