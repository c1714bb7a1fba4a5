"""`confgen explain`: the decisions it reports come from the rendered roles through HTCondor's parser
and classad2, and agree with the site's rules (confgen.validate.checks.expected_start: the OS offer,
the interactive partition, health), on the shipped site and on generated ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import classad2
import pytest
import yaml

from confgen.explain import explain_job
from confgen.explain.decide import load
from confgen.render import render_site
from confgen.validate.checks import base_job, expected_start
from tests.conftest import Run, example_text, site_from_text
from tests.generate import make_site

SITES = {"shipped": example_text(), **{f"generated-{seed}": yaml.safe_dump(make_site(seed)) for seed in (5, 17)}}


@pytest.mark.parametrize("label", sorted(SITES))
def test_start_per_class_image_and_threads_follow_the_sites_rules(label: str) -> None:
    site = site_from_text(SITES[label])
    fragments = load(render_site(site))  # once: every explanation below reads the same loaded roles
    for os_name in site.images:
        for interactive in (False, True):
            job = base_job(site, **{site.job_attribute: os_name, "RequestCpus": 2}, InteractiveJob=True if interactive else None)
            e = explain_job(site, fragments, job)
            if os_name not in {o for c in site.node_classes for o in c.images}:  # no class offers it: refused at submit
                assert e.accepted is False and os_name in e.reason, e.reason
                continue
            assert e.accepted is True, (os_name, e.reason)
            for c in e.classes:
                cls = next(k for k in site.node_classes if k.name == c.node_class)
                assert c.start is expected_start(site, cls, job), (label, os_name, interactive, c)
                if not c.start:
                    why = {"OS": os_name not in cls.images, "INTERACTIVE": {"only": not interactive, "never": interactive}.get(cls.interactive, False)}
                    assert {n for n, v in why.items() if v} <= set(c.deciding), (c.deciding, why)
                    continue
                assert c.image == site.images[os_name]
                assert all(c.threads[v] == 2 for v in ("OMP_NUM_THREADS", *site.threads_env))
                assert {b.source for b in site.binds} <= {b.split(":")[0] for b in c.binds}


def test_a_refused_job_gets_the_schedds_reason(run: Run) -> None:
    site = site_from_text(example_text())
    code, out, _ = run("explain", "--job", f'{site.job_attribute} = "NoSuchOS"')
    assert code == 0 and f'submit: REFUSED: {site.job_attribute} = "NoSuchOS" is not an OS of this pool' in out, out
    code, out, _ = run("explain", "--job", f'{site.job_attribute} = "{site.default_os}"', "--format", "json")
    doc = json.loads(out)
    assert doc["accepted"] is True and {c["node_class"] for c in doc["classes"]} == {c.name for c in site.node_classes}


def test_bad_jobs_and_classes_are_said_clearly(run: Run) -> None:
    site = site_from_text(example_text())
    code, _, err = run("explain", "--job", f"{site.job_attribute} = {site.default_os}")
    assert code == 1 and f'write {site.job_attribute} = "{site.default_os}" for the string' in err, err
    code, _, err = run("explain", "--job", "RequestCpus = ")
    assert code == 1 and "could not read RequestCpus" in err, err
    code, _, err = run("explain", "--job", "RequestCpus = 1", "--class", "nosuch")
    assert code == 1 and "is not a node class of this site" in err, err
    code, _, err = run("explain")
    assert code == 2  # --job or --job-file is required


def one_gpu_class_sites() -> dict[str, str]:
    """Generated sites with two or more classes of which exactly one has GPUs (the first few seeds that give one)."""
    found: dict[str, str] = {}
    for seed in range(200):
        data = make_site(seed)
        classes = data["node_classes"].values()
        if len(classes) >= 2 and sum(bool(c.get("gpus")) for c in classes) == 1:
            found[f"generated-{seed}"] = yaml.safe_dump(data)
        if len(found) == 3:
            break
    return found


GPU_SITES = {"shipped": example_text(), **one_gpu_class_sites()}
#: The Requirements `condor_submit -dump` 25.14.1 wrote for request_cpus = 2, request_gpus = 1 (in the test root).
DUMPED_GPU_REQUIREMENTS = ('(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || '
                           "(TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && "
                           "(TARGET.GPUs >= RequestGPUs) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))")


@pytest.mark.parametrize("label", sorted(GPU_SITES))
def test_a_gpu_job_starts_only_on_classes_with_gpus_and_the_jobs_requirements_say_why(label: str) -> None:
    site = site_from_text(GPU_SITES[label])
    assert len(site.node_classes) >= 2 and any(c.gpus for c in site.node_classes) and not all(c.gpus for c in site.node_classes)
    fragments = load(render_site(site))
    dumped = {"Requirements": classad2.ExprTree(DUMPED_GPU_REQUIREMENTS), "RequestDisk": 1024 * 1024, "FileSystemDomain": "submit.example"}
    for extra in ({}, dumped):
        job = base_job(site, RequestGPUs=1, RequestCpus=2, **extra)
        e = explain_job(site, fragments, job)
        assert e.accepted is True, e.reason
        for c in e.classes:
            cls = next(k for k in site.node_classes if k.name == c.node_class)
            assert c.matches is cls.gpus, (label, c.node_class, c.requirements, c.refusing)
            assert c.runs is (cls.gpus and c.start is True)
            if not cls.gpus:
                assert c.refusing == ["(TARGET.GPUs >= RequestGPUs)"], c.refusing
        assert any(c.runs for c in e.classes if next(k for k in site.node_classes if k.name == c.node_class).gpus) or not any(
            c.start for c in e.classes), "a class with GPUs whose START takes the job must run it"


@pytest.mark.parametrize("label", sorted(GPU_SITES))
def test_a_job_without_gpus_is_not_refused_by_its_requirements(label: str) -> None:
    site = site_from_text(GPU_SITES[label])
    e = explain_job(site, load(render_site(site)), base_job(site, RequestCpus=2))
    assert all(c.matches is True and c.runs is c.start for c in e.classes), [(c.node_class, c.refusing) for c in e.classes]


def test_the_slot_has_the_classs_cpus_and_memory(run: Run, tmp_path: Path) -> None:
    site = site_from_text(example_text())
    cls = next(c for c in site.node_classes if c.cpus is not None and c.memory_gb is not None)
    (tmp_path / "site.yaml").write_text(example_text())
    job = f"RequestCpus = {cls.cpus + 1}; RequestMemory = 1024"
    code, out, _ = run("explain", str(tmp_path / "site.yaml"), "--job", job, "--class", cls.name, "--format", "json")
    (c,) = json.loads(out)["classes"]
    assert code == 0 and c["slot"]["Cpus"] == cls.cpus and c["slot"]["Memory"] == cls.memory_gb * 1024
    assert c["matches"] is False and c["refusing"] == ["(TARGET.Cpus >= RequestCpus)"] and c["runs"] is False


@pytest.mark.parametrize("label", ["shipped", sorted(GPU_SITES)[0]])
def test_gpu_job_explained_as_text_and_json(label: str, run: Run, tmp_path: Path, text_snapshot) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "site.yaml").write_text(GPU_SITES[label])
    code, out, err = run("explain", str(tmp_path / "site.yaml"), "--job", "RequestGPUs = 1; RequestCpus = 2")
    assert code == 0, err
    assert re.sub(r"SiteBootTime = \d+", "SiteBootTime = <now - 1 day>", out) == text_snapshot
    code, out, _ = run("explain", str(tmp_path / "site.yaml"), "--job", "RequestGPUs = 1; RequestCpus = 2", "--format", "json")
    doc = json.loads(out)
    site = site_from_text(GPU_SITES[label])
    gpus = {c.name for c in site.node_classes if c.gpus}
    assert {c["node_class"] for c in doc["classes"] if c["matches"] is True} == gpus
    for c in doc["classes"]:
        assert set(c) >= {"requirements", "matches", "refusing", "runs", "slot", "start", "clauses"}
        if c["node_class"] not in gpus:
            assert c["refusing"] == ["(TARGET.GPUs >= RequestGPUs)"] and c["runs"] is False
