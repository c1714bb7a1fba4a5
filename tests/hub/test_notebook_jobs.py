"""Notebook jobs as the real condor_submit makes them: every OS and every limit corner of the shipped
site's options, posted as a form, written as a submit description by the spawner's own code, turned
into a job ad by `condor_submit -dump` (HTCondor 25 in the chroot, configured with the rendered submit
role), then evaluated with classad2 against the rendered roles: the ad passes the submit requirements,
fits a class that runs notebooks, is started there and gets the image of the OS it asked for.
Descriptions posted through the real JupyterHub form go the same way.
"""

from __future__ import annotations

import itertools
import urllib.parse
from typing import Any

import classad2
import pytest

from confgen.hub import options as hub_options
from confgen.hub.description import submit_description
from confgen.render import render_site
from confgen.site.model import Site
from confgen.validate.checks import node_attrs
from confgen.validate.evaluate import ExecuteRole, SubmitRole, parse_all
from confgen.validate.parser import load_roles
from tests.hub.conftest import submitted
from tests.hub.hub import Hub
from tests.hub.test_spawner_options import good_form
from tests.pool.chroot import SUBMITTER, Root
from tests.pool.pool import Pool

DUMP = "/tmp/confgen-notebook-dump"


def exhaustive_forms(options: dict[str, Any]) -> list[dict[str, str]]:
    """Every OS x each number at its minimum and maximum x every value of every list (GPUs only where allowed)."""
    axes: list[tuple[str, list[Any]]] = [("os", options["os"]["choices"])]
    for name in ("cpus", "memory_gb", "runtime_hours", "gpus"):
        spec = options[name]
        axes.append((name, sorted({spec["min"], spec["max"]})))
    if options.get("environment"):
        axes.append(("environment", options["environment"]["choices"]))
    for attr in options["attributes"]:
        axes.append((attr["name"], attr["choices"] if attr["type"] == "string" else sorted({attr["min"], attr["max"]})))
    forms = []
    for values in itertools.product(*(v for _, v in axes)):
        form = {name: str(value) for (name, _), value in zip(axes, values, strict=True)}
        if options["gpus"]["max"] == 0:
            del form["gpus"]
        elif form["gpus"] != "0" and form["os"] not in options["os"]["with_gpus"]:
            continue
        forms.append(form)
    return forms


def description_from_post(options: dict[str, Any], form: dict[str, str], n: int) -> str:
    """What the spawner writes for a posted form: the body is decoded as JupyterHub decodes it."""
    body = urllib.parse.urlencode(form)
    fields = {k: v for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
    choice = hub_options.check(options, hub_options.from_form(options, fields))
    return submit_description(options, choice, executable=f"{DUMP}/notebook", initialdir=f"{DUMP}/job{n}")


def dump_ads(root: Root, pool: Pool, descriptions: list[str]) -> list[classad2.ClassAd]:
    """One real `condor_submit -dump` per description, as the submitting user, in one chroot call."""
    files = {"notebook": "#!/bin/sh\nexit 0\n"}
    files.update({f"{i:05d}.sub": text for i, text in enumerate(descriptions)})
    root.install_dir(DUMP, files)
    for i in range(len(descriptions)):
        root.host(f"{DUMP}/job{i}").mkdir()
    root.run("chown", "-R", f"{SUBMITTER}:{SUBMITTER}", DUMP)
    script = f"cd {DUMP} && for f in *.sub; do condor_submit -dump ${{f%.sub}}.ad $f >/dev/null || echo FAILED $f; done"
    proc = root.run("sh", "-c", script, env=pool.env("submit"), user=SUBMITTER, timeout=600)
    assert "FAILED" not in proc.stdout, proc.stdout + proc.stderr
    ads = []
    for i in range(len(descriptions)):
        text = root.host(f"{DUMP}/{i:05d}.ad").read_text()
        ad = next(iter(classad2.parseAds(text)))
        # No environment in the ad (getenv = true would copy condor_submit's into it), no hub variable anywhere.
        assert ad.get("Environment", "") == "" and "JUPYTERHUB_" not in text, text
        ads.append(ad)
    return ads


@pytest.fixture(scope="module")
def roles(shipped_site: Site) -> tuple[dict[str, ExecuteRole], SubmitRole]:
    configs, problems = load_roles(render_site(shipped_site))
    parsed, more = parse_all(configs, "output")
    assert not problems and not more
    execute = {r: ExecuteRole(configs[r], parsed[r]) for r in configs if r.startswith("execute-")}
    return execute, SubmitRole(configs["submit"], parsed["submit"])


def assert_runs_as_chosen(site: Site, ad: classad2.ClassAd, form: dict[str, str], roles: tuple[dict[str, ExecuteRole], SubmitRole]) -> None:
    execute, submit = roles
    attrs = {k: ad.lookup(k) for k in ad}
    attrs["Owner"] = "alice"  # -dump leaves Owner undefined; the schedd sets it
    accepted, reason = submit.decide(attrs)
    assert accepted is True, f"{form}: refused at submit: {reason}"
    job = submit.transformed(attrs)
    assert job["RequestCpus"] == int(form["cpus"]) and job["RequestMemory"] == int(form["memory_gb"]) * 1024
    assert job.get("RequestGPUs", 0) == int(form.get("gpus", "0"))
    assert job["InteractiveJob"] is True and job[site.job_attribute] == form["os"]
    classes = [c for c in site.notebook_classes(gpus=int(form.get("gpus", "0")) > 0) if form["os"] in c.images]
    assert classes, f"{form}: no class runs it"
    for cls in classes:
        role = execute[cls.role]
        slot = role.slot({**node_attrs(site), "Cpus": cls.cpus or 64, "Memory": (cls.memory_gb or 256) * 1024,
                          "GPUs": 2 if cls.gpus else 0, "Arch": "X86_64", "OpSys": "LINUX", "HasFileTransfer": True,
                          "Disk": 10**8, "CondorVersion": "$CondorVersion: 25.14.1 2026-10-16 $"})
        # Parsed afresh: an expression looked up from an ad evaluates with that ad bound, not as MY here.
        requirements = classad2.ExprTree(str(job.lookup("Requirements")))
        assert requirements.eval(scope=job, target=slot) is True, f"{form}: does not fit {cls.role}"
        assert role.eval("START", slot, job) is True, f"{form}: {cls.role} does not start it"
        assert role.eval("SINGULARITY_IMAGE_EXPR", slot, job) == site.images[form["os"]], f"{form}: wrong image on {cls.role}"


def test_every_os_and_limit_corner_becomes_a_job_the_pool_runs_in_the_chosen_image(root: Root, shipped_site: Site, roles, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pool = Pool(root, render_site(shipped_site))
    pool.write_hosts()
    pool.configure("submit", "submit")
    options = hub_options.load(_options_file(shipped_site, tmp_path))
    forms = exhaustive_forms(options)
    assert len(forms) >= len(options["os"]["choices"]) * 16
    ads = dump_ads(root, pool, [description_from_post(options, form, i) for i, form in enumerate(forms)])
    for form, ad in zip(forms, ads, strict=True):
        assert_runs_as_chosen(shipped_site, ad, form, roles)
    print(f"{len(forms)} option combinations checked through condor_submit -dump")


def test_forms_posted_to_the_real_hub_become_jobs_the_pool_runs(root: Root, recorded_hub: Hub, shipped_site: Site, roles) -> None:  # type: ignore[no-untyped-def]
    site = shipped_site
    assert site.jupyterhub is not None
    pool = Pool(root, render_site(site))
    pool.write_hosts()
    pool.configure("submit", "submit")
    forms = []
    for os_name in site.notebook_os():
        gpus = "1" if os_name in site.notebook_os(gpus=True) and site.jupyterhub.max_gpus else "0"
        forms.append({**good_form(site), "os": os_name, "cpus": str(site.jupyterhub.max_cpus), "memory_gb": str(site.jupyterhub.max_memory_gb),
                      "runtime_hours": str(site.jupyterhub.max_runtime_hours), "gpus": gpus})
    descriptions = []
    for i, form in enumerate(forms):
        user = f"poster{i}"
        recorded_hub.add_user(user)
        before = len(submitted(recorded_hub))
        code, _ = recorded_hub.browser(user).post_spawn(form)
        assert code == 302, recorded_hub.log_tail()
        descriptions += submitted(recorded_hub)[before:]
        recorded_hub.api("DELETE", f"/users/{user}/server")
    assert len(descriptions) == len(forms)
    # The spawner's paths are on the hub's disk; the chroot has its own.
    descriptions = [_relocate(text, i) for i, text in enumerate(descriptions)]
    for form, ad in zip(forms, dump_ads(root, pool, descriptions), strict=True):
        assert_runs_as_chosen(site, ad, form, roles)


def _relocate(description: str, n: int) -> str:
    out = []
    for line in description.splitlines():
        if line.startswith("executable = "):
            line = f"executable = {DUMP}/notebook"
        elif line.startswith("initialdir = "):
            line = f"initialdir = {DUMP}/job{n}"
        out.append(line)
    return "\n".join(out) + "\n"


def _options_file(site: Site, tmp_path) -> str:  # type: ignore[no-untyped-def]
    from tests.hub.conftest import write_hub_files

    return str(write_hub_files(site, tmp_path / "confgen")[1])
