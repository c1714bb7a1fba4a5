"""The runtime attribute (any name, in hours, minutes or seconds) and the health script's own attribute
names, read back through HTCondor's parser and evaluated with classad2. Expectations come from the
site's rules: a job's limit is its attribute times its unit; START needs the names the site gives."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Any

import classad2
import pytest

from confgen.cli import main
from confgen.render import render_site
from confgen.render.runtime import GRACE_S, HOLD
from confgen.site import load_site
from confgen.validate import validate
from confgen.validate.evaluate import SubmitRole, parse_all
from confgen.validate.parser import load_roles
from tests import unambiguous_yaml
from tests.conftest import ROOT, site_from_text
from tests.generate import make_site

PUBLISHED_EXAMPLE = ROOT / "tests" / "sites" / "valid" / "published-example" / "site.yaml"
UNIT_S = {"hours": 3600, "minutes": 60, "seconds": 1}


def base(**sections: Any) -> dict[str, Any]:
    site: dict[str, Any] = {
        "site": {"name": "T", "uid_domain": "dom.example", "central_managers": ["cm.dom.example"]},
        "security": {"methods": ["FS"]},
        "containers": {"job_attribute": "Distro", "default": "Void1", "images": {"Void1": "/img/void1", "Nix2": "/img/nix2"}},
        "node_classes": {"node0": {"interactive": "allowed"}},
    }
    site.update(sections)
    return site


def loaded(site: dict[str, Any]):  # type: ignore[no-untyped-def]
    model = site_from_text(unambiguous_yaml.dump(site, sort_keys=False))
    fragments = render_site(model)
    configs, problems = load_roles(fragments)
    assert problems == []
    parsed, problems = parse_all(configs, "output")
    assert problems == []
    return model, fragments, configs, parsed


def refusal(site: dict[str, Any], tmp_path: Path) -> list[str]:
    path = tmp_path / "site.yaml"
    path.write_text(unambiguous_yaml.dump(site, sort_keys=False))
    out = tmp_path / "output"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["render", str(path), "-o", str(out)])
    assert code == 1, buf.getvalue()
    assert not out.exists()
    return [line.replace(f"{tmp_path}/", "") for line in buf.getvalue().splitlines() if ": error: " in line]


@pytest.mark.parametrize(("name", "unit", "value"), [("MaxRuntime", "seconds", 5400), ("JobMinutes", "minutes", 90), ("WallHours", "hours", 2),
                                                     ("JOB_EXPECTED_MAX_LIFETIME", "seconds", 1)])
def test_the_runtime_attribute_in_its_unit_is_the_jobs_allowed_execute_duration_and_its_hold(name: str, unit: str, value: int) -> None:
    attrs = {name: {"type": "integer", "min": 1, "max": 10**6, "default": value, "runtime": unit}}
    _, _, configs, parsed = loaded(base(job_attributes=attrs))
    submit = SubmitRole(configs["submit"], parsed["submit"])
    limit = value * UNIT_S[unit]
    assert submit.transformed({}).get(name) == value  # the site default
    assert submit.transformed({name: value}).get("AllowedExecuteDuration") == limit + GRACE_S
    assert submit.transformed({name: value, "AllowedExecuteDuration": 2}).get("AllowedExecuteDuration") == 2
    hold = parsed["submit"][f"SYSTEM_PERIODIC_HOLD_{HOLD}".upper()]
    reason = parsed["submit"][f"SYSTEM_PERIODIC_HOLD_{HOLD}_REASON".upper()]
    for ran, want in ((limit - 1, False), (limit + 2, True)):
        job = classad2.ClassAd({name: value, "JobStatus": 2, "JobCurrentStartExecutingDate": int(time.time()) - ran})
        assert hold.eval(scope=job) is want, (ran, limit)
    assert f"{name} = {value} {unit}" in reason.eval(scope=job)
    assert hold.eval(scope=classad2.ClassAd({name: value, "JobStatus": 1, "JobCurrentStartExecutingDate": 0})) is False
    # a re-run still transferring its input: the execution date is the previous run's
    rerun = classad2.ClassAd({name: value, "JobStatus": 2, "JobCurrentStartExecutingDate": int(time.time()) - limit - 100,
                              "JobCurrentStartDate": int(time.time()) - 3})
    assert hold.eval(scope=rerun) is False


def test_a_site_without_a_runtime_attribute_renders_no_limit_and_drains_by_allowed_execute_duration() -> None:
    model, fragments, configs, parsed = loaded(base(reboots={"check": "/usr/sbin/reboot-due"}))
    assert model.runtime_limit is None
    assert not any(f.name == "55-runtime-limit.conf" for f in fragments)
    role = "execute-node0"
    start = classad2.ExprTree(configs[role].get("DEFAULT_DRAINING_START_EXPR"))
    now = int(time.time())
    slot = classad2.ClassAd({"Draining": True, "ExpectedMachineGracefulDrainingCompletion": now + 7200})
    slot["SiteOfferedOS"] = classad2.ExprTree('{"Void1", "Nix2"}')
    for name in ("SiteDrainingStart", "SiteRebootDrained", "SiteRebootDue", "SiteRebootDueSince"):
        slot[name] = parsed[role][name.upper()]
    assert start.eval(scope=slot, target=classad2.ClassAd({"AllowedExecuteDuration": 3600})) is True
    assert start.eval(scope=slot, target=classad2.ClassAd({"AllowedExecuteDuration": 3 * 3600})) is False
    assert start.eval(scope=slot, target=classad2.ClassAd({})) is False  # runtime unknown: no backfill
    # a graceful drain waits at most 24 h for a job that set no AllowedExecuteDuration
    assert "86400), 0)" in configs[role].get("MAXJOBRETIREMENTTIME")


def test_the_published_example_unchanged_renders_and_validates() -> None:
    site = load_site(PUBLISHED_EXAMPLE)
    assert site.runtime_limit is None  # MaxRuntimeHours is an attribute like any other there
    assert validate(site, render_site(site)).errors == []


@pytest.mark.parametrize("section", ["reboots", "jupyterhub"])
def test_the_older_runtime_attribute_keys_mean_hours(section: str) -> None:
    attrs = {"Walltime": {"type": "integer", "min": 1, "max": 48, "interactive_max": 8, "default": 2}}
    extra = {"reboots": {"check": "/usr/sbin/reboot-due", "runtime_attribute": "Walltime"},
             "jupyterhub": {"max_cpus": 2, "max_memory_gb": 2, "max_runtime_hours": 4, "runtime_attribute": "Walltime"}}[section]
    model, _, configs, parsed = loaded(base(job_attributes=attrs, **{section: extra}))
    assert (model.runtime_limit.attribute, model.runtime_limit.unit) == ("Walltime", "hours")  # type: ignore[union-attr]
    submit = SubmitRole(configs["submit"], parsed["submit"])
    assert submit.transformed({"Walltime": 3}).get("AllowedExecuteDuration") == 3 * 3600 + GRACE_S
    assert validate(model, render_site(model)).errors == []


@pytest.mark.parametrize("seed", range(40))
def test_generated_vocabulary_sites_validate(seed: int, tmp_path: Path) -> None:
    raw = make_site(seed)
    path = tmp_path / "site.yaml"
    path.write_text(unambiguous_yaml.dump(raw, sort_keys=False))
    site = load_site(path)
    report = validate(site, render_site(site))
    assert report.errors == []


@pytest.mark.parametrize(("healthy", "interactive"), [("NODE_IS_HEALTHY", None), ("NodeOnline", "NodeInteractiveOK"), ("StartJobs", None)])
def test_start_needs_the_health_attributes_the_site_names(healthy: str, interactive: str | None) -> None:
    publishes = {"healthy": healthy, **({"interactive": interactive} if interactive else {})}
    _, _, _, parsed = loaded(base(health={"script": "/usr/sbin/hc", "publishes": publishes}))
    start = parsed["execute-node0"]["START"]

    def starts(node: dict[str, Any], job: dict[str, Any]) -> Any:
        slot = classad2.ClassAd(node)
        slot["SiteOfferedOS"] = classad2.ExprTree('{"Void1", "Nix2"}')
        return start.eval(scope=slot, target=classad2.ClassAd(job))

    batch, inter = {}, {"InteractiveJob": True}
    assert starts({healthy: True}, batch) is True
    assert starts({healthy: False}, batch) is False
    assert starts({}, batch) is False  # not yet reported
    assert starts({"NodeIsHealthy": True}, batch) is False  # the example's name means nothing here
    if interactive is None:
        assert starts({healthy: True}, inter) is True
    else:
        assert starts({healthy: True, interactive: False}, inter) is False
        assert starts({healthy: True, interactive: True}, inter) is True
        assert starts({healthy: True, interactive: True}, batch) is True


RUNTIME = {"type": "integer", "min": 1, "max": 100, "default": 2}
BAD = {
    "two marked runtime attributes": (dict(job_attributes={"A": {**RUNTIME, "runtime": "hours"}, "B": {**RUNTIME, "runtime": "minutes"}}),
                                      "job_attributes.B.runtime", "A is already the runtime limit"),
    "an unknown unit": (dict(job_attributes={"A": {**RUNTIME, "runtime": "days"}}), "job_attributes.A", "days"),
    "runtime on a string attribute": (dict(job_attributes={"A": {"type": "string", "values": ["x"], "default": "x", "runtime": "hours"}}),
                                      "job_attributes.A", ""),
    "an alias naming no attribute": (dict(reboots={"check": "/usr/sbin/r", "runtime_attribute": "Nope"}),
                                     "reboots.runtime_attribute", "'Nope' is not an entry of job_attributes"),
    "an alias naming another attribute": (dict(job_attributes={"A": {**RUNTIME, "runtime": "seconds"}, "B": RUNTIME},
                                               reboots={"check": "/usr/sbin/r", "runtime_attribute": "B"}),
                                          "reboots.runtime_attribute", "write runtime_attribute: A"),
    "a runtime minimum of zero": (dict(job_attributes={"A": {**RUNTIME, "min": 0, "runtime": "seconds"}}), "job_attributes.A.min", "write min: 1"),
    "a health name outside HTCondor's pattern": (dict(health={"script": "/usr/sbin/hc", "publishes": {"healthy": "NODE-HEALTHY"}}),
                                                 "health.publishes.healthy", "NODE-HEALTHY"),
    "the same health name twice": (dict(health={"script": "/usr/sbin/hc", "publishes": {"healthy": "Ok", "interactive": "OK"}}),
                                   "health.publishes.interactive", "also the healthy attribute"),
    "a health name confgen publishes": (dict(health={"script": "/usr/sbin/hc", "publishes": {"healthy": "SiteOfferedOS"}}),
                                        "health.publishes.healthy", "confgen publishes itself"),
    "a health name HTCondor defines": (dict(health={"script": "/usr/sbin/hc", "publishes": {"healthy": "Start"}}),
                                       "health.publishes.healthy", "HTCondor defines itself"),
    "a hub runtime above the cap in minutes": (dict(job_attributes={"M": {"type": "integer", "min": 1, "max": 600, "interactive_max": 120,
                                                                          "default": 60, "runtime": "minutes"}},
                                                    jupyterhub={"max_cpus": 1, "max_memory_gb": 1, "max_runtime_hours": 3}),
                                               "jupyterhub.max_runtime_hours", "write at most 2"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_runtime_and_health_keys_are_refused_at_their_place(case: str, tmp_path: Path) -> None:
    sections, key, needle = BAD[case]
    errors = refusal(base(**sections), tmp_path)
    assert errors, case
    assert any(f": error: {key}" in e and needle in e for e in errors), errors
    assert all(e.startswith("site.yaml:") and e.split(":")[1].isdigit() for e in errors), errors
