"""The per-class policy and the admin switch, on varied generated sites, as HTCondor's parser loads the
rendered roles and classad2 evaluates them.

Each site gets a policy class (GPUs, only_gpu_jobs, its own binds, an extra START clause on a job
attribute of a random name, typed slot attributes of random names) and a plain class without any; the
switch has a random name. Expectations come from those rules: a job starts on the policy class only
if it asks for a GPU and the clause holds for it, the plain class starts it either way, the switch False
stops both, unset or True changes nothing.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import classad2
import pytest

from confgen.render import Fragment, render_site
from confgen.site.class_policy import parse_clause
from confgen.site.model import Site
from confgen.validate import validate
from confgen.validate.checks import base_job, node_attrs
from confgen.validate.evaluate import ExecuteRole, parse_all
from confgen.validate.lint import lint
from confgen.validate.parser import RoleConfig, load_roles
from tests.conftest import site_from_text
from tests.generate import dump, make_site

SEEDS = range(8)


def policy_site(seed: int) -> dict[str, Any]:
    rng = random.Random(f"policy-{seed}")
    raw = make_site(seed)
    raw.pop("jupyterhub", None)  # notebooks are covered elsewhere; here every class is a plain target
    first = next(iter(raw["node_classes"]))
    raw["node_classes"] = {first: {k: v for k, v in raw["node_classes"][first].items() if k != "images"}}  # every OS: jobs naming none start
    job_attr = rng.choice(["Project", "AcctGroupTag", "Experiment", "Campaign"])
    word = rng.choice(["teaching", "test-runs", "cms"])
    raw["node_classes"][first].update(
        gpus=True, only_gpu_jobs=True, interactive="allowed",
        binds=[f"/local/scratch{seed}", {"source": f"/opt/tools{seed}", "target": f"/tools{seed}", "read_only": rng.random() < 0.5}],
        start=f'TARGET.{job_attr} =!= "{word}"',
        attributes={rng.choice(["ScratchKind", "DiskFlavour"]): rng.choice(["local-ssd", "nvme raid"]),
                    rng.choice(["ScratchGB", "RackRow"]): rng.randint(-5, 5000), rng.choice(["HasIB", "IsLegacy"]): rng.random() < 0.5},
    )
    raw["node_classes"][f"plain{seed}"] = {"interactive": "allowed"}
    raw["admin_switch"] = {"attribute": rng.choice(["StartJobs", "AcceptNewJobs", "SiteOpen"])}
    raw["_test"] = {"job_attr": job_attr, "word": word, "policy": first, "plain": f"plain{seed}"}
    return raw


@pytest.fixture(scope="module", params=SEEDS)
def loaded(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Site, list[Fragment], dict[str, RoleConfig], dict[str, ExecuteRole]]:
    raw = policy_site(request.param)
    meta = raw.pop("_test")
    site = site_from_text(dump(raw))
    fragments = render_site(site)
    configs, problems = load_roles(fragments)
    assert problems == []
    parsed, parse_problems = parse_all(configs, "output")
    assert parse_problems == []
    execute = {r: ExecuteRole(configs[r], parsed[r]) for r in configs if r.startswith("execute-")}
    return {**raw, "_test": meta}, site, fragments, configs, execute


def job(site: Site, **attrs: Any) -> classad2.ClassAd:
    return classad2.ClassAd({k: v for k, v in base_job(site, **attrs).items() if v is not None})


def start(role: ExecuteRole, site: Site, ad: classad2.ClassAd, **node: Any) -> Any:
    return role.eval("START", role.slot({**node_attrs(site), **node}), ad)


def test_the_policy_site_passes_every_built_in_check(loaded) -> None:  # type: ignore[no-untyped-def]
    _, site, fragments, _, _ = loaded
    assert validate(site, fragments).errors == []


def test_a_job_without_a_gpu_request_never_starts_on_an_only_gpu_jobs_class(loaded) -> None:  # type: ignore[no-untyped-def]
    raw, site, _, _, execute = loaded
    policy, plain = execute[f"execute-{raw['_test']['policy']}"], execute[f"execute-{raw['_test']['plain']}"]
    for gpus, want in ((None, False), (0, False), (1, True), (2, True)):
        ad = job(site, RequestGPUs=gpus)
        for dynamic in (False, True):
            slot = policy.slot(node_attrs(site), dynamic=dynamic, job=base_job(site))
            assert policy.eval("START", slot, ad) is want, (gpus, dynamic)
        assert start(plain, site, ad) is True, gpus


def test_the_extra_start_clause_decides_on_its_class_only(loaded) -> None:  # type: ignore[no-untyped-def]
    raw, site, _, _, execute = loaded
    meta = raw["_test"]
    policy, plain = execute[f"execute-{meta['policy']}"], execute[f"execute-{meta['plain']}"]
    for value, want in ((meta["word"], False), (meta["word"].upper(), True), ("other", True), (None, True), (7, True)):
        ad = job(site, RequestGPUs=1, **{meta["job_attr"]: value})
        assert start(policy, site, ad) is want, value
        assert start(plain, site, ad) is True, value


def test_class_binds_follow_the_site_binds_on_that_class_only(loaded) -> None:  # type: ignore[no-untyped-def]
    raw, site, _, _, execute = loaded
    meta = raw["_test"]

    def spec(b: Any) -> str:
        if isinstance(b, str):
            return b
        return f"{b['source']}:{b.get('target', b['source'])}" + (":ro" if b.get("read_only") else "")

    site_binds = [spec(b) for b in raw["containers"].get("binds", [])]
    class_binds = [spec(b) for b in raw["node_classes"][meta["policy"]]["binds"]]
    for cls, want in ((meta["policy"], site_binds + class_binds), (meta["plain"], site_binds)):
        role = execute[f"execute-{cls}"]
        got = role.eval("SINGULARITY_BIND_EXPR", role.slot(node_attrs(site)), job(site))
        assert (got.split(",") if isinstance(got, str) else []) == want, cls


def test_class_attributes_are_typed_values_of_that_class_only(loaded) -> None:  # type: ignore[no-untyped-def]
    raw, site, _, _, execute = loaded
    meta = raw["_test"]
    attributes = raw["node_classes"][meta["policy"]]["attributes"]
    policy, plain = execute[f"execute-{meta['policy']}"], execute[f"execute-{meta['plain']}"]
    for name, value in attributes.items():
        got = policy.slot(node_attrs(site)).eval(name)
        assert got == value and type(got) is type(value), (name, got)
        assert name not in plain.slot(node_attrs(site))


def test_the_switch_stops_new_jobs_and_unset_starts_them(loaded) -> None:  # type: ignore[no-untyped-def]
    raw, site, _, configs, execute = loaded
    name = raw["admin_switch"]["attribute"]
    ad = job(site, RequestGPUs=1)
    for role_name, role in execute.items():
        assert start(role, site, ad) is True, role_name
        assert start(role, site, ad, **{name: False}) is False, role_name
        assert start(role, site, ad, **{name: True}) is True, role_name
        unset = role.slot(node_attrs(site), without=name)
        assert name not in unset and name in role.slot(node_attrs(site)), role_name  # the shared ad is not changed
        assert role.eval("START", unset, ad) is True, role_name
        config = configs[role_name]
        assert config.get("STARTD.SETTABLE_ATTRS_ADMINISTRATOR") == name
        assert (config.get("STARTD.ENABLE_PERSISTENT_CONFIG") or "").lower() == "true"
        assert (config.get("ENABLE_PERSISTENT_CONFIG") or "").lower() == "false"  # the master keeps it off
        assert (config.get("ENABLE_RUNTIME_CONFIG") or "").lower() == "false"
        assert config.get("ALLOW_CONFIG") is None
        assert (config.get("PERSISTENT_CONFIG_DIR") or "").startswith("/")


def test_check_fails_a_start_that_treats_the_switch_unset_as_off(loaded) -> None:  # type: ignore[no-untyped-def]
    """A node whose switch was never set (a fresh install) must start jobs; a START that reads unset as
    False stops the whole pool until an admin sets it everywhere. The check compares START with the switch
    unset against START with it True, on ads of its own (a shared slot ad changed in place made both the
    same ad, and the check could not fail)."""
    raw, site, fragments, _, _ = loaded
    name = raw["admin_switch"]["attribute"]
    rendered = f"(MY.{name} =!= False)"
    assert any(rendered in f.text for f in fragments)
    broken = [dataclasses.replace(f, text=f.text.replace(rendered, f"(MY.{name} =?= True)")) for f in fragments]
    messages = [d.message for d in validate(site, broken).errors]
    assert any(f"with {name} unset" in m and "unset must start jobs" in m for m in messages), messages
    assert not any("= False for the job" in m for m in messages), messages  # False still stops every job


@pytest.mark.parametrize("text", [
    'True) || (True', 'TARGET.X =?= 1) || (TARGET.Y =?= 2', 'True /* unclosed', 'True //', 'a b', 'x = 1', 'True; False', '"$(ENV)"',
    'TARGET.Group =?= "$(FULL_HOSTNAME)"',
])
def test_a_clause_that_is_not_one_expression_is_refused(text: str) -> None:
    tree, why = parse_clause(text)
    assert tree is None and why


@pytest.mark.parametrize("text", ['TARGET.Project =!= "teaching"', 'True /* ) || ( */', '(a || b) && c', 'TARGET.Url =?= "http://x//y"'])
def test_the_rendered_clause_is_exactly_the_parsed_expression(text: str) -> None:
    tree, why = parse_clause(text)
    assert tree is not None, why
    rendered = classad2.ExprTree(f"({text}) && Rest")
    assert str(rendered) == f"({tree}) && Rest"


WIDER = [
    ("execute", "STARTD.SETTABLE_ATTRS_ADMINISTRATOR = $(STARTD.SETTABLE_ATTRS_ADMINISTRATOR) START", "more than the admin switch"),
    ("execute", "SETTABLE_ATTRS_WRITE = {switch}", "more than the admin switch"),
    ("execute", "STARTD.SETTABLE_ATTRS_CONFIG = {switch}", "more than the admin switch"),
    ("execute", "STARTD.ENABLE_RUNTIME_CONFIG = True", "runtime configuration stays off"),
    ("execute", "MASTER.ENABLE_PERSISTENT_CONFIG = True", "on the startd of execute roles only"),
    ("execute", "ALLOW_CONFIG = root@{dom}/$(FULL_HOSTNAME)", "grants CONFIG"),
    ("submit", "SCHEDD.ENABLE_PERSISTENT_CONFIG = True", "on the startd of execute roles only"),
    ("central-manager", "COLLECTOR.SETTABLE_ATTRS_ADMINISTRATOR = {switch}", "more than the admin switch"),
]


@pytest.mark.parametrize(("kind", "line", "why"), WIDER)
def test_the_lint_refuses_remote_configuration_wider_than_the_switch(kind: str, line: str, why: str) -> None:
    raw = policy_site(0)
    raw.pop("_test")
    site = site_from_text(dump(raw))
    fragments = render_site(site)
    assert lint(site, load_roles(fragments)[0]) == []
    role = next(f.role for f in fragments if f.role.startswith(kind))
    extra = Fragment(role, "99-hand-written.conf", line.format(switch=site.switch_attribute, dom=site.uid_domain) + "\n")
    messages = [d.message for d in lint(site, load_roles([*fragments, extra])[0])]
    assert any(f"{role}:" in m and why in m for m in messages), messages
