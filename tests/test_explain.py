"""`confgen explain`: the decisions it reports come from the rendered roles through HTCondor's parser
and classad2, and agree with the site's rules (confgen.validate.checks.expected_start: the OS offer,
the interactive partition, health), on the shipped site and on generated ones."""

from __future__ import annotations

import json

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
