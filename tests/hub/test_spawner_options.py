"""The spawner's options against a real JupyterHub and batchspawner: the form shows exactly what the
site allows, and every refused spawn, from the form or the REST API, submits nothing.

condor_* here is the recording STAND-IN (tests/hub/condor-recorder); the descriptions it records are
turned into job ads by the real condor_submit in tests/pool/test_notebook_jobs.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from confgen.site.model import Site
from tests.hub.conftest import submitted
from tests.hub.hub import Hub, form_fields


def good_form(site: Site) -> dict[str, str]:
    """Every field at a valid value, from the site model (not from the options file)."""
    hub = site.jupyterhub
    assert hub is not None
    form = {"os": site.notebook_os()[0], "cpus": "1", "memory_gb": "1", "runtime_hours": "1"}
    if hub.max_gpus:
        form["gpus"] = "0"
    if hub.environments:
        form["environment"] = hub.environments[0]
    for attr in site.job_attributes:
        if site.runtime_limit is None or attr.name != site.runtime_limit.attribute:
            form[attr.name] = attr.values[0] if attr.type == "string" else str(attr.min)
    return form


def least_runtime_hours(site: Site) -> int:
    """The shortest runtime a notebook may ask for, in hours: the runtime attribute's min in its unit, at least 1."""
    limit = site.runtime_limit
    attr = next((a for a in site.job_attributes if limit is not None and a.name == limit.attribute), None)
    if limit is None or attr is None or attr.min is None:
        return 1
    per_hour = 3600 // limit.seconds
    return max(1, -(-attr.min // per_hour))


def test_form_lists_exactly_the_sites_oses_and_limits(recorded_hub: Hub, shipped_site: Site) -> None:
    site, hub_section = shipped_site, shipped_site.jupyterhub
    assert hub_section is not None
    recorded_hub.add_user("formreader")
    fields = form_fields(recorded_hub.browser("formreader").spawn_form())
    offered = [os for os in site.images if any(os in c.images for c in site.node_classes if c.interactive != "never")]
    assert fields["os"]["choices"] == offered
    assert fields["os"]["selected"] == [site.default_os]
    assert (fields["cpus"]["min"], fields["cpus"]["max"]) == (1, hub_section.max_cpus)
    assert (fields["memory_gb"]["min"], fields["memory_gb"]["max"]) == (1, hub_section.max_memory_gb)
    assert (fields["runtime_hours"]["min"], fields["runtime_hours"]["max"]) == (least_runtime_hours(site), hub_section.max_runtime_hours)
    assert (fields["gpus"]["min"], fields["gpus"]["max"]) == (0, hub_section.max_gpus)
    assert fields["environment"] == {"choices": list(hub_section.environments), "selected": [hub_section.environments[0]]}
    for attr in site.job_attributes:
        if attr.type == "string":
            assert fields[attr.name] == {"choices": list(attr.values), "selected": [attr.default]}
    assert set(fields) == set(good_form(site)), "the form has a field the site does not define, or lacks one"


def bad_forms(site: Site) -> list[tuple[str, dict[str, str] | list[tuple[str, str]], str]]:
    """(case, posted fields, what the message must say)."""
    hub = site.jupyterhub
    assert hub is not None
    good = good_form(site)
    gpu_os = set(site.notebook_os(gpus=True))
    cases: list[tuple[str, Any, str]] = [
        ("cpus above the limit", {**good, "cpus": str(hub.max_cpus + 1)}, "CPUs"),
        ("no cpus", {**good, "cpus": "0"}, "CPUs"),
        ("negative cpus", {**good, "cpus": "-1"}, "CPUs"),
        ("memory above the limit", {**good, "memory_gb": str(hub.max_memory_gb + 1)}, "memory"),
        ("fractional memory", {**good, "memory_gb": "1.5"}, "memory"),
        ("runtime above the limit", {**good, "runtime_hours": str(hub.max_runtime_hours + 1)}, "runtime"),
        ("runtime below the minimum", {**good, "runtime_hours": str(least_runtime_hours(site) - 1)}, "runtime"),
        ("gpus above the limit", {**good, "gpus": str(hub.max_gpus + 1)}, "GPUs"),
        ("unknown OS", {**good, "os": "CentOS7"}, "not offered"),
        ("OS in another case", {**good, "os": site.notebook_os()[0].swapcase()}, "not offered"),
        ("unknown environment", {**good, "environment": "nightly"}, "environment"),
        ("unknown field", {**good, "request_cpus": "64"}, "unknown option"),
        ("field sent twice", [*good.items(), ("cpus", "2")], "exactly one value"),
        ("submit command as a number", {**good, "cpus": "1 request_cpus=64"}, "CPUs"),
    ]
    no_gpu_os = [o for o in site.notebook_os() if o not in gpu_os]
    if hub.max_gpus and no_gpu_os:
        cases.append(("GPUs with an OS no GPU class offers", {**good, "gpus": "1", "os": no_gpu_os[0]}, "GPU nodes offer"))
    for attr in site.job_attributes:
        if attr.type == "string":
            cases.append((f"{attr.name} not a value", {**good, attr.name: "extreme"}, attr.name))
    for field, injected in itertools.product(good, ("\nrequest_cpus = 64", "\rqueue 100", "\u2028+Owner = \"root\"")):
        cases.append((f"line break in {field}", {**good, field: good[field] + injected}, "line break"))
    return cases


def test_bad_form_posts_are_refused_with_a_message_and_nothing_is_submitted(recorded_hub: Hub, shipped_site: Site) -> None:
    recorded_hub.add_user("mallory")
    browser = recorded_hub.browser("mallory")
    cases = bad_forms(shipped_site)
    assert len(cases) >= 30
    for case, fields, needle in cases:
        code, page = browser.post_spawn(fields)
        assert code == 400, f"{case}: answered {code}"
        assert "Invalid notebook options" in page and needle in page, f"{case}: the page does not say why ({needle!r})"
        assert recorded_hub.server("mallory") is None, f"{case}: a server was started"
    assert submitted(recorded_hub) == []


REST_BAD: list[tuple[str, Any]] = [
    ("cpus far above the limit", {"cpus": 10**6}),
    ("cpus as a boolean", {"cpus": True}),
    ("cpus as a float", {"cpus": 2.5}),
    ("cpus as a list of two", {"cpus": [1, 2]}),
    ("os as a mapping", {"os": {"name": "Rocky9"}}),
    ("os unknown", {"os": "CentOS7"}),
    ("newline in os", {"os": "Rocky9\nrequest_cpus = 64"}),
    ("unknown option", {"image": "/tmp/evil.sif"}),
    ("runtime as text", {"runtime_hours": "twelve"}),
    ("very long value", {"environment": "x" * 10000}),
]


@pytest.mark.parametrize(("case", "user_options"), REST_BAD, ids=[c for c, _ in REST_BAD])
def test_rest_spawn_with_bad_options_is_refused(recorded_hub: Hub, case: str, user_options: dict[str, Any]) -> None:
    recorded_hub.add_user("restuser")
    code, body = recorded_hub.api("POST", "/users/restuser/server", {"user_options": user_options})
    assert code == 400, f"{case}: {code} {body}"
    assert "Invalid notebook options" in body["message"]
    assert recorded_hub.server("restuser") is None
    assert submitted(recorded_hub) == []


def test_good_form_post_submits_one_description_with_the_site_attributes(recorded_hub: Hub, shipped_site: Site) -> None:
    site = shipped_site
    assert site.jupyterhub is not None
    before = len(submitted(recorded_hub))
    recorded_hub.add_user("goodpost")
    form = {**good_form(site), "os": site.notebook_os()[-1], "cpus": str(site.jupyterhub.max_cpus)}
    code, _ = recorded_hub.browser("goodpost").post_spawn(form)
    assert code == 302, recorded_hub.log_tail()
    descriptions = submitted(recorded_hub)[before:]
    assert len(descriptions) == 1
    text = descriptions[0]
    assert f'MY.{site.job_attribute} = "{form["os"]}"' in text
    assert f"request_cpus = {site.jupyterhub.max_cpus}" in text
    assert "MY.InteractiveJob = true" in text
    assert "getenv = false" in text and "JUPYTERHUB_API_TOKEN" not in text
    code, _ = recorded_hub.api("DELETE", "/users/goodpost/server")
    assert code in (202, 204)
    recorded_hub.wait_gone("goodpost")


