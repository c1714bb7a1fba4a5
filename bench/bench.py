"""Benchmark (run by hand): wall time of `confgen check` and `confgen render` on the shipped site and on
generated sites with 10, 100 and 1000 OS images. Each command is a fresh process, interpreter start
included, as a user runs it. Prints a table.

    .venv/bin/python bench/bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.generate import dump, make_site  # noqa: E402


def timed(cmd: list[str], cwd: Path, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        runs.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{done.stdout}{done.stderr}")
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    confgen = str(Path(sys.executable).with_name("confgen"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("shipped site.yaml", (ROOT / "site.yaml").read_text())]
        for n in (10, 100, 1000):
            site = make_site(4242 + n, n_os=n)
            for cls in site["node_classes"].values():
                cls.pop("images", None)
            cases.append((f"generated, {n} OS images", dump(site)))
        for label, text in cases:
            work = Path(tmp) / label.replace(" ", "_").replace(",", "")
            work.mkdir()
            (work / "site.yaml").write_text(text)
            check = timed([confgen, "check"], work, args.repeat)
            render = timed([confgen, "render"], work, 1)
            rerender = timed([confgen, "render"], work, args.repeat)
            rows.append((label, check, render, rerender))
            shutil.rmtree(work)
    print(f"{'site':28} {'check (s)':>10} {'render, first (s)':>18} {'render, unchanged (s)':>22}")
    for label, check, render, rerender in rows:
        print(f"{label:28} {check:10.3f} {render:18.3f} {rerender:22.3f}")
    print(f"(median of {args.repeat} runs; python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
