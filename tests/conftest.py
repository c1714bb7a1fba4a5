"""Shared helpers: the repository paths, running the CLI in-process, and a text snapshot per file."""

from __future__ import annotations

import io
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


@pytest.fixture
def run() -> Run:
    """Run `confgen ARGS` in this process; returns (exit code, stdout, stderr)."""

    def _run(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
        return code, out.getvalue(), err.getvalue()

    return _run


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


@pytest.fixture(scope="session")
def root():  # type: ignore[no-untyped-def]
    """The real-HTCondor chroot, one per session (built or reused by scripts/htcondor-root); used by
    tests/pool and tests/hub. Every process in it is killed when the session ends."""
    from tests.pool.chroot import Root, build_root, mounted_proc

    built = Root(build_root())
    with mounted_proc(built):
        yield built
