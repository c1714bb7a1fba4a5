"""Benchmark (run by hand): `confgen check` as a user runs it (a fresh process, interpreter start
included), side by side in one run with the floor: a fresh interpreter that only imports `htcondor2`
and `classad2`. Machines drift, so every figure is printed with its ratio to the floor measured in
the same run, the runs of both interleaved.

    .venv/bin/python bench/bench.py [--repeat N] [--before DIR] [--quick]

Prints the shipped site's figure, then the scaling table: generated sites with 10 ... 20,000 OS
images, 1, 10 and 50 node classes, 0, 100 and 1000 checks (wall seconds, CPU seconds of the process
and its children, peak memory of the largest process). `--before DIR` runs every case also with
another source tree of confgen (e.g. `git archive main | tar -x -C /tmp/before`) and prints both
with their ratio, from the same run. A run longer than `--timeout` is killed and shown as `>T`.

`--limits` instead times `confgen check` on sites that reach every bound of confgen/site/bounds.py
at once, in the shapes that cost most.

    .venv/bin/python bench/bench.py --limits
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confgen.site import bounds  # noqa: E402
from tests.generate import dump, make_site  # noqa: E402

FLOOR = "import htcondor2, classad2"
#: One run in a fresh wrapper process: wall and CPU seconds of the command and its children, peak RSS.
_WRAPPER = """\
import json, resource, subprocess, sys, time
t = time.perf_counter()
try:
    p = subprocess.run(sys.argv[2:], capture_output=True, text=True, timeout=float(sys.argv[1]))
    code, out = p.returncode, (p.stdout + p.stderr)[-600:]
except subprocess.TimeoutExpired:
    code, out = None, "timeout"
wall = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": r.ru_utime + r.ru_stime, "rss": r.ru_maxrss / 1024, "code": code, "out": out}))
"""


def run_once(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", _WRAPPER, str(timeout), *cmd], cwd=cwd, env=env,
                          capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def env_for(tree: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def check_cmd() -> list[str]:
    return [sys.executable, "-m", "confgen", "check", "site.yaml"]


def scaled_site(images: int, classes: int, checks: int) -> dict[str, Any]:
    """A generated site (names unlike the example's) with `images` OS images, `classes` node classes that
    each offer every image, and `checks` site checks, each naming an OS and the image it must get."""
    site = make_site(4242, n_os=images)
    site["node_classes"] = {f"class{c}": {"interactive": "allowed" if c == 0 else "never", **({"gpus": True} if c == 1 else {})}
                            for c in range(classes)}
    site.pop("jupyterhub", None)
    names = sorted(site["containers"]["images"])
    attribute = site["containers"]["job_attribute"]
    site["checks"] = [{"name": f"check {i}", "job": {attribute: names[i % len(names)]}, "expect": {"image": names[i % len(names)]}}
                      for i in range(checks)]
    if not checks:
        site.pop("checks")
    return site


def cases() -> list[tuple[str, str]]:
    out = [("shipped site.yaml", (ROOT / "site.yaml").read_text())]
    out += [(f"{n:,} images, 2 classes, 0 checks", dump(scaled_site(n, 2, 0))) for n in (10, 100, 1000, 5000, 20_000)]
    out += [(f"100 images, {c} classes, 0 checks", dump(scaled_site(100, c, 0))) for c in (1, 10, 20, 50)]
    out += [(f"100 images, 2 classes, {k} checks", dump(scaled_site(100, 2, k))) for k in (0, 100, 1000)]
    return out


class Runner:
    """Runs the floor and each tree's `confgen check` interleaved, and keeps every run."""

    def __init__(self, trees: dict[str, Path | None], repeat: int, timeout: float) -> None:
        self.trees, self.repeat, self.timeout = trees, repeat, timeout

    def measure(self, work: Path, repeat: int) -> dict[str, list[dict[str, Any]]]:
        runs: dict[str, list[dict[str, Any]]] = {"floor": [], **{name: [] for name in self.trees}}
        for _ in range(repeat):
            runs["floor"].append(run_once([sys.executable, "-c", FLOOR], work, env_for(None), self.timeout))
            for name, tree in self.trees.items():
                if runs[name] and runs[name][-1]["code"] is None:
                    continue  # timed out once: not again
                runs[name].append(run_once(check_cmd(), work, env_for(tree), self.timeout))
        return runs


def median(runs: list[dict[str, Any]], key: str) -> float | None:
    if not runs or any(r["code"] is None for r in runs):
        return None
    return statistics.median(r[key] for r in runs)


def shown(seconds: float | None, timeout: float) -> str:
    return f">{timeout:g}" if seconds is None else f"{seconds:.3f}"


def outcome(runs: list[dict[str, Any]]) -> str:
    last = runs[-1]
    if last["code"] is None:
        return "timeout"
    if last["code"] == 0:
        return "ok"
    reason = last["out"].strip().splitlines()
    return f"exit {last['code']}: " + (reason[0][:90] if reason else "")


def report_row(label: str, runs: dict[str, list[dict[str, Any]]], names: list[str], timeout: float) -> str:
    floor, floor_cpu = median(runs["floor"], "wall") or 0.0, median(runs["floor"], "cpu") or 0.0
    cells = [f"{label:34}", f"{floor:6.3f} {floor_cpu:6.3f}"]
    walls = {}
    for name in names:
        wall, cpu = median(runs[name], "wall"), median(runs[name], "cpu")
        rss = max((r["rss"] for r in runs[name]), default=0.0)
        walls[name] = wall
        ratio = f"{wall / floor:5.1f}x" if wall is not None and floor else "    -"
        cpu_ratio = f"{cpu / floor_cpu:5.1f}x" if cpu is not None and floor_cpu else "    -"
        cells.append(f"{shown(wall, timeout):>8} {ratio} {shown(cpu, timeout):>8} {cpu_ratio} {rss:6.0f}")
    if len(names) == 2 and walls[names[0]] is not None and walls[names[1]] is not None:
        cells.append(f"{walls[names[1]] / walls[names[0]]:6.3f}")  # type: ignore[operator]
    notes = "; ".join(f"{n}: {outcome(runs[n])}" for n in names if outcome(runs[n]) != "ok")
    return "  ".join(cells) + (f"  ({notes})" if notes else "")


def header(names: list[str]) -> str:
    cols = ["site".ljust(34), "floor: wall    cpu"]
    cols += [f"{(n + ' wall'):>8} /floor {'cpu':>8} /floor {'MiB':>6}" for n in names]
    if len(names) == 2:
        cols.append(f"{names[1]}/{names[0]}")
    return "  ".join(cols)


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5, help="runs of the shipped site (and of each small site)")
    parser.add_argument("--before", type=Path, help="another confgen source tree, run side by side as 'before'")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one run may take")
    parser.add_argument("--quick", action="store_true", help="the shipped site only")
    parser.add_argument("--limits", action="store_true", help="time confgen check at every limit of bounds.py instead")
    args = parser.parse_args()
    if args.limits:
        limits(args.timeout)
        return
    trees: dict[str, Path | None] = {"before": args.before} if args.before else {}
    trees["after" if args.before else "confgen"] = ROOT
    for tree in trees.values():  # as `pip install` leaves it: every module's bytecode written
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "confgen")], check=True)  # type: ignore[operator]
    runner = Runner(trees, args.repeat, args.timeout)
    names = list(trees)
    print(machine())
    print(header(names))
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, text) in enumerate(cases()[: 1 if args.quick else None]):
            work = Path(tmp) / f"case{i}"
            work.mkdir()
            (work / "site.yaml").write_text(text)
            big = len(text) > 200_000
            runs = runner.measure(work, 1 if big else args.repeat)
            print(report_row(label, runs, names, args.timeout), flush=True)
    print(f"(median of {args.repeat} runs, 1 for sites over 200 kB; wall and cpu in seconds, cpu of the process and its children; "
          "MiB: peak RSS of the largest process; confgen's bytecode compiled first, as pip install does)")


def limits_site(classes: int) -> dict[str, Any]:
    """A valid site at every limit of bounds.py at once: MAX_OS_IMAGES images whose paths fill the text
    limit, `classes` node classes offering MAX_CLASS_IMAGES OS images in all, MAX_BINDS binds,
    MAX_JOB_ATTRIBUTES attributes with MAX_ATTRIBUTE_VALUES values, MAX_CHECKS checks, MAX_ITEMS
    blocked users and notebook environments."""
    site = make_site(4242, n_os=bounds.MAX_OS_IMAGES)
    names = sorted(site["containers"]["images"])
    budget = bounds.MAX_TEXT * 3 // 4 // len(names)  # a quarter of the text for everything else
    site["containers"]["images"] = {n: f"/srv/images/{n.lower()}/" + "p" * max(1, budget - len(n) * 2 - 14) for n in names}
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


def limits(timeout: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for classes in (2, 10, bounds.MAX_NODE_CLASSES):
            work = Path(tmp) / f"limits{classes}"
            work.mkdir()
            text = dump(limits_site(classes))
            (work / "site.yaml").write_text(text)
            run = run_once(check_cmd(), work, env_for(ROOT), timeout)
            print(f"every limit, {classes} classes ({len(text) / 2**20:.1f} MiB site.yaml): {shown(run['wall'] if run['code'] is not None else None, timeout)} s, "
                  f"cpu {run['cpu']:.1f} s, peak {run['rss']:.0f} MiB; {run['out'].strip()[-300:]}", flush=True)


if __name__ == "__main__":
    main()
