"""What each optimisation of `confgen check` saved (run by hand): every commit below against its parent,
on the parent's shipped site.yaml, the runs of both interleaved with the floor (bench.py's), and on
generated sites where the optimisation was about scale. Each tree is a `git archive` of the commit
with its bytecode compiled, run by this interpreter with the tree first on PYTHONPATH.

    .venv/bin/python bench/ablate.py [--repeat N] [COMMIT ...]

Parents differ from one row to the next where features landed in between: a row is one optimisation
alone, measured at the point in history where it was made.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import FLOOR, run_once, scaled_site  # noqa: E402  (bench/bench.py, beside this script)
from tests.generate import dump  # noqa: E402

#: commit -> (what it does, generated sites it is also measured on: "images" 1,000 OS images, "classes" 20 classes)
OPTIMISATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "753a040": ("parser child a plain script started before the site loads; os._exit", ()),
    "214fe4d": ("schema compiled to closures; jsonschema only to explain errors", ()),
    "fe5732b": ("templates compiled ahead of time", ()),
    "9a657fa": ("slot ads built once and shared", ("images",)),
    "e327ce3": ("submit requirements evaluated once per sample job", ("images",)),
    "e09812a": ("the parser's files staged in /dev/shm", ()),
    "dfad3ef": ("libyaml composes site.yaml where it reads alike", ()),
    "b35ed34": ("the agreement check asks START only for jobs accepted at submit", ("images",)),
    "39dce63": ("4 slot ads per role; submit verdicts keyed by one string", ("images",)),
    "2111fb4": ("record lookup of the job's OS instead of identicalMember; the site digest once", ("images",)),
    "aa06926": ("the pinned wheel's version from classad2.version()", ()),
    "fd74c3a": ("the parser reads the roles while the checks' modules are imported; job ads once per class", ("images",)),
    "d1c4a73": ("fewer imports (traceback, difflib, html, importlib.resources)", ()),
    "80b196d": ("a passing check's message is not formatted", ("images",)),
    "fd58a58": ("node-class checks in a forked copy of the process", ("images", "classes")),
    "e78743b": ("templates not stat()ed at each use; fewer mkdirs", ()),
    "d86192e": ("reboot checks: each class's node states once", ("classes",)),
    "c128e15": ("argparse builds only the command's own parser", ()),
}
SITES = {"images": lambda: dump(scaled_site(1000, 2, 0)), "classes": lambda: dump(scaled_site(100, 20, 0))}


def tree(commit: str, cache: Path) -> Path:
    directory = cache / commit
    if not directory.exists():
        directory.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(directory)], input=archive, check=True)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(directory / "confgen")], capture_output=True, check=True)
    return directory


def env(directory: Path | None) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("CONFGEN_HTCONDOR_")}
    if directory is not None:
        out["PYTHONPATH"] = str(directory)
    return out


def measure(text: str, before: Path, after: Path, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "site.yaml").write_text(text)
        check = [sys.executable, "-m", "confgen", "check", "site.yaml"]
        runs: dict[str, list[dict[str, Any]]] = {"floor": [], "before": [], "after": []}
        for _ in range(repeat):
            runs["floor"].append(run_once([sys.executable, "-c", FLOOR], Path(work), env(None), 120))
            runs["before"].append(run_once(check, Path(work), env(before), 120))
            runs["after"].append(run_once(check, Path(work), env(after), 120))
    out: dict[str, Any] = {k: statistics.median(r["wall"] for r in v) for k, v in runs.items()}
    out["codes"] = {k: v[-1]["code"] for k, v in runs.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15, help="runs of the shipped site (3 of each generated site)")
    parser.add_argument("commits", nargs="*", help="only these (default: every optimisation)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        for commit in args.commits or list(OPTIMISATIONS):
            what, scaled = OPTIMISATIONS.get(commit, ("", ()))
            parent = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", f"{commit}^"], capture_output=True, text=True, check=True).stdout.strip()
            before, after = tree(parent, Path(cache)), tree(commit, Path(cache))
            m = measure((before / "site.yaml").read_text(), before, after, args.repeat)
            line = (f"{commit} {what[:70]:70} shipped {1000 * m['before']:6.1f} -> {1000 * m['after']:6.1f} ms "
                    f"({m['before'] / m['floor']:.2f}x -> {m['after'] / m['floor']:.2f}x the floor), saved {1000 * (m['before'] - m['after']):5.1f} ms")
            for name in scaled:
                s = measure(SITES[name](), before, after, 3)
                line += f" | {name}: {s['before']:.3f} -> {s['after']:.3f} s"
            bad = {k: v for k, v in m["codes"].items() if v != 0}
            print(line + (f" (exit codes {bad})" if bad else ""), flush=True)


if __name__ == "__main__":
    main()
