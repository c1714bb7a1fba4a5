"""The pre-commit hooks (.pre-commit-hooks.yaml) run by the real `pre-commit` in a scratch repository
that keeps a site, as an admin's repository would use them: its .pre-commit-config.yaml names a copy of
this checkout (its tracked files, committed) and a revision; pre-commit installs confgen from it into
the hook's own environment once (about half a minute) and runs each hook on the repository's files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, example_text, run_cli
from tests.namespaces import in_host_network

PRE_COMMIT = Path(sys.executable).parent / "pre-commit"  # installed beside this interpreter by the test extra


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=admin@example.org", "-c", "user.name=admin", *args], cwd=repo, check=True, capture_output=True)


def hook(repo: Path, home: Path, hook_id: str) -> subprocess.CompletedProcess[str]:
    """`pre-commit run <hook> --all-files`; the hook environment is installed from the machine's
    package index, so this one command runs in the machine's network."""
    return subprocess.run([str(PRE_COMMIT), "run", hook_id, "--all-files", "--color=never"], cwd=repo,
                          capture_output=True, text=True, timeout=900, env={"PATH": "/usr/bin:/bin", "HOME": str(home), "PRE_COMMIT_HOME": str(home / "cache")},
                          preexec_fn=in_host_network)


def hook_repository(target: Path) -> str:
    """This checkout's tracked files as they are now, committed in a repository of their own; returns the revision."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-qm", "confgen as checked out")
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=target, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not PRE_COMMIT.exists():
        pytest.fail(f"{PRE_COMMIT} is missing: install the test extra (pip install -e '.[test]')")
    repo, home, hooks = (tmp_path_factory.mktemp(n) for n in ("site-repo", "pre-commit-home", "confgen-hooks"))
    rev = hook_repository(hooks)
    git(repo, "init", "-q")
    (repo / "site.yaml").write_text(example_text())
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{
        "repo": str(hooks), "rev": rev, "hooks": [{"id": "confgen-check"}, {"id": "confgen-render-check"}]}]}))
    assert run_cli("render", str(repo / "site.yaml"), "-o", str(repo / "output"))[0] == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the site and its output")
    return repo, home


def test_both_hooks_pass_on_a_valid_site_with_its_output(repo: tuple[Path, Path]) -> None:
    path, home = repo
    for hook_id in ("confgen-check", "confgen-render-check"):
        proc = hook(path, home, hook_id)
        assert proc.returncode == 0 and "Passed" in proc.stdout, proc.stdout + proc.stderr


def test_the_check_hook_fails_with_the_position_of_the_problem(repo: tuple[Path, Path]) -> None:
    path, home = repo
    good = (path / "site.yaml").read_text()
    (path / "site.yaml").write_text(good.replace("  default: Rocky9", "  default: Rocky10", 1) if "  default: Rocky9" in good else good + "bogus: 1\n")
    try:
        proc = hook(path, home, "confgen-check")
        assert proc.returncode == 1 and "Failed" in proc.stdout, proc.stdout
        assert "site.yaml:" in proc.stdout and ": error: " in proc.stdout, proc.stdout
    finally:
        (path / "site.yaml").write_text(good)


def test_the_render_hook_fails_while_output_is_stale(repo: tuple[Path, Path]) -> None:
    path, home = repo
    good = (path / "site.yaml").read_text()
    data = yaml.safe_load(good)
    data["site"]["name"] = "RENAMED"
    (path / "site.yaml").write_text(yaml.safe_dump(data))
    try:
        proc = hook(path, home, "confgen-render-check")
        assert proc.returncode == 1 and "Failed" in proc.stdout and "would change" in proc.stdout, proc.stdout
    finally:
        (path / "site.yaml").write_text(good)
