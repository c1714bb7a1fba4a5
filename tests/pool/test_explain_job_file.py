"""`confgen explain --job-file`: a real submit file turned into the job ad by the root's real
`condor_submit -dump` (configured with the rendered submit role), then explained. condor_submit on PATH
is a WRAPPER (test only) that runs the root's in the test machine, with paths under the root mapped."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest

from confgen.render import render_site
from tests.conftest import example_text, run_cli, site_from_text
from tests.pool.chroot import Root
from tests.pool.pool import Pool

WORK = "/tmp/confgen-explain"


def explain_submit_file(root: Root, monkeypatch: pytest.MonkeyPatch, submit: str) -> dict[str, Any]:
    """explain --job-file --format json of `submit`, through the root's condor_submit -dump."""
    site = site_from_text(example_text())
    pool = Pool(root, render_site(site))
    pool.write_hosts()  # condor_submit looks up the central managers and its own name: without them in /etc/hosts it waits ~2 min for DNS
    env = pool.configure("submit", "submit")  # the rendered submit role, as condor_submit reads it
    root.write(f"{WORK}/job.sub", submit)
    root.run("chmod", "-R", "a+rwX", WORK)
    wrapper = root.host(f"{WORK}/bin/condor_submit")
    argv = " ".join(root.command("condor_submit", env=env))  # as root: -dump only writes the ad
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\n# WRAPPER (test only): the root\'s condor_submit in the test machine; paths under the root mapped\n'
                       f'for a in "$@"; do shift; set -- "$@" "${{a#{root.path}}}"; done\nexec {argv} "$@"\n')
    wrapper.chmod(0o755 | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(tempfile, "tempdir", str(root.host(WORK)))  # the dump is written where condor_submit can write
    site_file = root.host(f"{WORK}/site.yaml")
    site_file.write_text(example_text())
    code, out, err = run_cli("explain", str(site_file), "--job-file", str(root.host(f"{WORK}/job.sub")), "--format", "json")
    assert code == 0, err
    assert Path(site_file).exists()
    result: dict[str, Any] = json.loads(out)
    return result


def test_a_submit_file_is_explained_as_condor_submit_reads_it(root: Root, monkeypatch: pytest.MonkeyPatch) -> None:
    site = site_from_text(example_text())
    other = next(o for o in site.images if o != site.default_os)
    doc = explain_submit_file(root, monkeypatch, f'executable = /bin/true\nrequest_cpus = 3\n+{site.job_attribute} = "{other}"\nqueue\n')
    assert doc["job"]["RequestCpus"] == 3 and doc["job"][site.job_attribute] == other and doc["accepted"] is True
    started = [c for c in doc["classes"] if c["start"]]
    assert started and all(c["image"] == site.images[other] and c["threads"]["OMP_NUM_THREADS"] == 3 for c in started)
    assert {c["node_class"] for c in started} == {c.name for c in site.node_classes if other in c.images and c.interactive != "only"}
    assert all(c["matches"] is True and c["runs"] is True for c in started), started


def test_a_gpu_submit_file_runs_only_on_a_class_with_gpus(root: Root, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Requirements condor_submit writes for request_gpus = 1, evaluated against each class's slot."""
    site = site_from_text(example_text())
    doc = explain_submit_file(root, monkeypatch, "executable = /bin/true\nrequest_gpus = 1\nrequest_cpus = 2\nqueue\n")
    assert "TARGET.GPUs >= RequestGPUs" in doc["classes"][0]["requirements"] and doc["accepted"] is True
    gpus = {c.name for c in site.node_classes if c.gpus}
    assert gpus and {c["node_class"] for c in doc["classes"] if c["matches"] is True} == gpus
    for c in doc["classes"]:
        assert c["runs"] is (c["node_class"] in gpus and c["start"] is True)
        if c["node_class"] not in gpus:
            assert c["refusing"] == ["(TARGET.GPUs >= RequestGPUs)"], c
