"""Benchmark (run by hand): wall time of `confgen check` and `confgen render` on the shipped site and on
generated sites with 10, 100 and 1000 OS images. Each command is a fresh process, interpreter start
included, as a user runs it. Prints a table.

    .venv/bin/python bench/bench.py [--repeat N]

`--limits` instead times `confgen check` (and its peak memory, the parser's child included) on sites
that reach every bound of confgen/site/bounds.py at once, in the shapes that cost most: the most OS
images on few classes, and the most classes.

    .venv/bin/python bench/bench.py --limits
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confgen.site import bounds  # noqa: E402
from tests.generate import dump, make_site  # noqa: E402


def limits_site(classes: int) -> dict[str, Any]:
    """A valid site at every limit of bounds.py at once: MAX_OS_IMAGES images whose paths fill the text
    limit, `classes` node classes offering MAX_CLASS_IMAGES OS images in all, MAX_BINDS binds,
    MAX_JOB_ATTRIBUTES attributes with MAX_ATTRIBUTE_VALUES values, MAX_CHECKS checks, MAX_ITEMS
    blocked users and notebook environments."""
    site = make_site(4242, n_os=bounds.MAX_OS_IMAGES)
    names = sorted(site["containers"]["images"])
    budget = bounds.MAX_TEXT * 3 // 4 // len(names)  # a quarter of the text for everything else
    site["containers"]["images"] = {n: f"/srv/images/{n.lower()}/" + "p" * (budget - len(n) * 2 - 14) for n in names}
    site["containers"]["binds"] = [f"/bind/{i:04d}/" + "b" * 200 for i in range(bounds.MAX_BINDS)]
    per_class = bounds.MAX_CLASS_IMAGES // classes
    site["node_classes"] = {}
    for c in range(classes):
        start = (c * per_class) % len(names)
        offered = (names + names)[start:start + per_class]
        if site["containers"]["default"] not in offered and c == 0:
            offered[0] = site["containers"]["default"]
        site["node_classes"][f"class{c}"] = {"interactive": "allowed", "gpus": c == 0, "images": sorted(set(offered))}
    values = bounds.MAX_ATTRIBUTE_VALUES
    site["job_attributes"] = {"WallHours": {"type": "integer", "min": 1, "max": 72, "interactive_max": 8, "default": 2},
                              "Storage": {"type": "string", "values": [f"v{i}" for i in range(values)], "default": "v0"}}
    for i in range(bounds.MAX_JOB_ATTRIBUTES - 2):
        site["job_attributes"][f"Extra{i}"] = {"type": "integer", "min": 0, "max": 100, "default": 1}
    site["security"] = {"methods": ["FS", "IDTOKENS"], "blocked_users": [f"user{i}" for i in range(bounds.MAX_ITEMS)]}
    site["reboots"] = {"check": "/usr/sbin/needs-reboot", "runtime_attribute": "WallHours"}
    site["health"] = {"script": "/usr/sbin/health"}
    offered_anywhere = sorted({n for cls in site["node_classes"].values() for n in cls["images"]})
    attribute = site["containers"]["job_attribute"]
    site["checks"] = [{"name": f"check {i}", "job": {attribute: offered_anywhere[i % len(offered_anywhere)]},
                       "expect": {"image": offered_anywhere[i % len(offered_anywhere)]}} for i in range(bounds.MAX_CHECKS)]
    site["jupyterhub"] = {"max_cpus": 4, "max_memory_gb": 8, "max_runtime_hours": 8, "runtime_attribute": "WallHours",
                          "max_gpus": 1, "environments": [f"env{i}" for i in range(bounds.MAX_ITEMS)]}
    return site


def measured(cmd: list[str], cwd: Path) -> tuple[float, int, str]:
    """Wall time, peak RSS in MiB (the largest of the process and its children), and the output."""
    script = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
              "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
              "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024); "
              "print(p.returncode, p.stdout[-2000:], p.stderr[-2000:])")
    done = subprocess.run([sys.executable, "-c", script, *cmd], cwd=cwd, capture_output=True, text=True, check=True)
    first, rest = done.stdout.split("\n", 1)
    seconds, rss = first.split()
    return float(seconds), int(rss), rest


def limits(confgen: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for classes in (2, 10, bounds.MAX_NODE_CLASSES):
            work = Path(tmp) / f"limits{classes}"
            work.mkdir()
            text = dump(limits_site(classes))
            (work / "site.yaml").write_text(text)
            seconds, rss, out = measured([confgen, "check"], work)
            print(f"every limit, {classes} classes ({len(text) / 2**20:.1f} MiB site.yaml): {seconds:.1f} s, peak {rss} MiB; {out.strip()[:300]}")


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
    parser.add_argument("--limits", action="store_true", help="time confgen check at every limit of bounds.py instead")
    args = parser.parse_args()
    confgen = str(Path(sys.executable).with_name("confgen"))
    if args.limits:
        limits(confgen)
        return
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
