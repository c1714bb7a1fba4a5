"""`confgen check` when the system refuses something: exit 1 with the path and the reason, never 3
("a bug in confgen"). Real refusals, no stand-in: a 8 KiB tmpfs mounted in a private mount namespace
(tests run as root) as the temporary directory, so writing the role files for HTCondor's parser fails
with ENOSPC; and a file-descriptor limit (RLIMIT_NOFILE) so low that the parser's pipes cannot be made
(EMFILE). (EROFS on the output directory: tests/test_write_faults.py.)"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECK = [sys.executable, "-m", "confgen", "check", "site.yaml"]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "site.yaml", tmp_path / "site.yaml")
    return tmp_path


def test_disk_full_temporary_directory(workdir: Path) -> None:
    full = workdir / "full"
    full.mkdir()
    # After the check, what it left in the full directory is listed (the mount lives only in this namespace).
    script = f'mount -t tmpfs -o size=8k confgen-full {full} || exit 99; TMPDIR={full} "$@"; rc=$?; echo "left: $(ls -A {full})" >&2; exit $rc'
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *CHECK],
                          cwd=workdir, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert f"confgen: error: {full}/confgen-check-" in proc.stderr
    assert "No space left on device" in proc.stderr
    assert "bug" not in proc.stderr
    assert proc.stderr.rstrip().endswith("left:"), proc.stderr  # the partly staged roles were removed


def test_no_file_descriptors_left(workdir: Path) -> None:
    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (8, 8))

    proc = subprocess.run(CHECK, cwd=workdir, capture_output=True, text=True, timeout=120, preexec_fn=low_limit)
    assert proc.returncode == 1, proc.stderr
    assert "confgen: error: Too many open files" in proc.stderr
    assert "bug" not in proc.stderr
