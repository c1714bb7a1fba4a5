"""Varied sites for tests and the benchmark: other OS names, another job attribute, single-OS classes,
one or two central managers, optional sections. Nothing here reuses the example's names."""

from __future__ import annotations

import random
from typing import Any

import yaml


def make_site(seed: int, n_os: int | None = None) -> dict[str, Any]:
    rng = random.Random(seed)
    n = n_os if n_os is not None else rng.randint(1, 7)
    stems = ["Alma", "Fedora", "Suse", "Arch", "Gentoo", "Alpine", "Void", "Mint", "Nix", "Clear"]
    names = [f"{rng.choice(stems)}{i}{rng.choice(['', 'x', '_lts'])}" for i in range(n)]
    images = {name: f"/srv/images/{name.lower()}{'.sif' if rng.random() < 0.3 else '/current'}" for name in names}
    default = rng.choice(names)
    attribute = rng.choice(["WantOS", "Distro", "SiteImage", "OperatingSystem"])
    classes: dict[str, Any] = {}
    for c in range(rng.randint(1, 3)):
        cls: dict[str, Any] = {"interactive": rng.choice(["only", "allowed", "never"])}
        if rng.random() < 0.5:
            picked = rng.sample(names, rng.randint(1, len(names)))
            cls["images"] = picked
        if rng.random() < 0.3:
            cls["gpus"] = True
        classes[f"{rng.choice(['worker', 'node', 'compute'])}{c}"] = cls
    if not any(default in cls.get("images", names) for cls in classes.values()):
        next(iter(classes.values())).pop("images", None)
    site: dict[str, Any] = {
        "site": {"name": f"POOL{seed}", "uid_domain": "example.org",
                 "central_managers": [f"cm{i}.example.org" for i in range(rng.randint(1, 2))]},
        "network": {"shared_port": {"enabled": rng.random() < 0.8, "port": 9618}, "ccb": rng.random() < 0.5},
        "security": {"methods": rng.choice([["KERBEROS", "FS"], ["FS", "IDTOKENS"], ["IDTOKENS"]]),
                     "blocked_users": rng.sample(["nobody", "intern", "visitor"], rng.randint(0, 2))},
        "containers": {"job_attribute": attribute, "default": default, "images": images,
                       "binds": rng.sample(["/data", "/scratch", {"source": "/etc/hosts", "target": "/etc/hosts", "read_only": True}], rng.randint(0, 3)),
                       "all_jobs": rng.random() < 0.7},
        "node_classes": classes,
    }
    if "KERBEROS" in site["security"]["methods"]:
        site["security"]["kerberos"] = {"realm": "EXAMPLE.ORG"}
    if rng.random() < 0.7:
        site["job_attributes"] = {"WallHours": {"type": "integer", "min": 1, "max": 72, "interactive_max": 8, "default": 2},
                                  "Storage": {"type": "string", "values": ["fast", "slow"], "default": "slow"}}
        if rng.random() < 0.6:
            site["reboots"] = {"check": "/usr/sbin/needs-reboot", "spread_days": rng.randint(0, 5),
                               "runtime_attribute": "WallHours", **({"max_uptime_days": 20} if rng.random() < 0.5 else {})}
    if rng.random() < 0.6:
        site["health"] = {"script": "/usr/sbin/health", "period": rng.choice(["90s", "2m", "1h"])}
    if rng.random() < 0.5:
        site["threads_env"] = ["OMP_NUM_THREADS", "MY_THREADS"]
    # Last, so that the sections above stay what they were for a given seed.
    takes_notebooks = [c for c in classes.values() if c["interactive"] != "never"]
    if "job_attributes" in site and "FS" in site["security"]["methods"] and takes_notebooks and rng.random() < 0.7:
        hub: dict[str, Any] = {"max_cpus": rng.randint(1, 16), "max_memory_gb": rng.randint(1, 64),
                               "max_runtime_hours": rng.randint(1, 8), "runtime_attribute": "WallHours",
                               "max_gpus": rng.randint(1, 2) if any(c.get("gpus") for c in takes_notebooks) else 0}
        if rng.random() < 0.5:
            hub["environments"] = rng.sample(["py311", "py312", "root6", "lcg105"], rng.randint(1, 3))
        if rng.random() < 0.5:
            for cls in classes.values():
                cls.update(cpus=rng.randint(hub["max_cpus"], 128), memory_gb=rng.randint(hub["max_memory_gb"], 1024))
        site["jupyterhub"] = hub
    # Last again: the pool's hosts, absent (every host of the UID domain), by name or by network.
    hosts = rng.choice([None, ["*.example.org"], [*site["site"]["central_managers"], "ap.example.org", "*.nodes.example.org"], ["10.20.0.0/16", "cm0.example.org"]])
    if hosts is not None:
        site["security"]["pool_hosts"] = hosts
    # Last again: other sites' vocabulary; the health script's own names, a runtime attribute of
    # another name and unit (marked with runtime:, or named by the older keys in hours).
    if "health" in site and rng.random() < 0.6:
        healthy = rng.choice(["NODE_IS_HEALTHY", "NodeOnline", "StartJobs", "OSG_NODE_VALIDATED"])
        site["health"]["publishes"] = {"healthy": healthy, **({"interactive": healthy + "_Interactive"} if rng.random() < 0.5 else {})}
    if "job_attributes" in site and rng.random() < 0.6:
        name, unit = rng.choice([("MaxRuntime", "seconds"), ("RequestRuntime", "seconds"), ("JobMinutes", "minutes"), ("WallHours", "hours")])
        per = {"hours": 1, "minutes": 60, "seconds": 3600}[unit]
        site["job_attributes"].pop("WallHours")
        site["job_attributes"][name] = {"type": "integer", "min": per, "max": 72 * per, "interactive_max": 8 * per,
                                        "default": 2 * per, "runtime": unit}
        for section in ("reboots", "jupyterhub"):
            if section in site:
                site[section].pop("runtime_attribute", None)
    # Last once more: the per-class policy and the admin switch (issue 12).
    class_policy(rng, site)
    return site


#: Extra START clauses of the shapes sites write, each a strict boolean for any job (the limits stay above
#: what a generated JupyterHub form offers, so every notebook still starts somewhere).
CLAUSES = [
    'TARGET.{job} =!= "{word}"',
    '(TARGET.{job} =?= "{word}") || (TARGET.RequestCpus <= {n})',
    'isUndefined(TARGET.{job}) || TARGET.{job} =!= "{word}"',
    'TARGET.RequestMemory <= {mem}',
    '(MY.{slot} =?= {value}) && (TARGET.{job} =!= "{word}")',
]


def class_policy(rng: random.Random, site: dict[str, Any]) -> None:
    """GPU-only classes, per-class binds, extra START clauses and slot attributes, a renamed switch."""
    for name, cls in site["node_classes"].items():
        # A class that takes notebooks keeps CPU notebooks (confgen refuses a form whose choice never starts).
        if cls.get("gpus") and rng.random() < 0.6 and ("jupyterhub" not in site or cls["interactive"] == "never"):
            cls["only_gpu_jobs"] = True
        if rng.random() < 0.5:
            cls["binds"] = [f"/local/{name}", *([{"source": f"/opt/{name}-tools", "target": "/tools", "read_only": True}] if rng.random() < 0.5 else [])]
        attrs: dict[str, Any] = {}
        if rng.random() < 0.6:
            attrs[rng.choice(["ScratchKind", "LocalDiskType", "Fabric"])] = rng.choice(["nvme", "local-ssd", "hdd raid"])
            attrs[rng.choice(["ScratchGB", "NodeGeneration"])] = rng.randint(-3, 4000)
            attrs[rng.choice(["HasInfiniBand", "IsLegacyRack"])] = rng.random() < 0.5
            cls["attributes"] = attrs
        if rng.random() < 0.6:
            slot_attr, value = next(((k, v) for k, v in attrs.items()), ("SiteNodeClass", name))
            shown = f'"{value}"' if isinstance(value, str) else str(value)
            clause = rng.choice(CLAUSES if attrs else CLAUSES[:4])
            cls["start"] = clause.format(job=rng.choice(["Project", "AcctGroupName", "Experiment"]), word=rng.choice(["teaching", "test", "cms"]),
                                         n=rng.randint(16, 64), mem=rng.randint(65536, 131072), slot=slot_attr, value=shown)
    if rng.random() < 0.4:
        published = {n.lower() for n in site.get("health", {}).get("publishes", {}).values()}  # a health name is not a switch
        switch = rng.choice(["StartJobs", "AcceptNewJobs", "Drained_Not"])
        site["admin_switch"] = {"attribute": switch if switch.lower() not in published else "AcceptNewJobs"}


def dump(site: dict[str, Any]) -> str:
    return yaml.safe_dump(site, sort_keys=False)
