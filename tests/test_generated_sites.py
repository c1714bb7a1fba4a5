"""Sites confgen has never seen render, pass HTCondor's parser and every built-in check."""

from __future__ import annotations

import classad2
import pytest

from confgen.render import render_site
from confgen.render.expressions import MAX_CHAIN_DEPTH
from confgen.site import load_site
from confgen.validate import validate
from confgen.validate.checks import base_job, node_attrs
from confgen.validate.evaluate import ExecuteRole, SubmitRole
from confgen.validate.parser import load_roles
from tests.generate import dump, make_site
from tests.test_runtime_and_health import loaded


@pytest.mark.parametrize("seed", range(12))
def test_generated_site_renders_and_validates(seed, tmp_path):  # type: ignore[no-untyped-def]
    raw = make_site(seed)
    path = tmp_path / "site.yaml"
    path.write_text(dump(raw))
    site = load_site(path)
    report = validate(site, render_site(site))
    assert report.errors == []
    assert report.roles_loaded == 2 + len(raw["node_classes"])
    assert report.checks_evaluated > 20


@pytest.mark.parametrize("n_os", [1, MAX_CHAIN_DEPTH, MAX_CHAIN_DEPTH + 1])
def test_chain_and_constant_depth_forms_choose_the_named_image(n_os, tmp_path):  # type: ignore[no-untyped-def]
    raw = make_site(1000 + n_os, n_os=n_os)
    for cls in raw["node_classes"].values():
        cls.pop("images", None)
    path = tmp_path / "site.yaml"
    path.write_text(dump(raw))
    site = load_site(path)
    fragments = render_site(site)
    containers = next(f for f in fragments if f.role.startswith("execute-") and f.name == "50-containers.conf")
    uses_record = n_os > MAX_CHAIN_DEPTH
    assert ("record lookup" in containers.text) is uses_record
    configs, problems = load_roles(fragments)
    assert problems == []
    config = configs[containers.role]
    expr = classad2.ExprTree(config.get("SINGULARITY_IMAGE_EXPR"))
    attribute = raw["containers"]["job_attribute"]
    for name, image in raw["containers"]["images"].items():
        assert expr.eval(scope=classad2.ClassAd(), target=classad2.ClassAd({attribute: name})) == image
    default = raw["containers"]["images"][raw["containers"]["default"]]
    assert expr.eval(scope=classad2.ClassAd(), target=classad2.ClassAd()) == default
    assert validate(site, fragments).errors == []


def test_rendering_is_deterministic_and_ignores_key_order(tmp_path):  # type: ignore[no-untyped-def]
    raw = make_site(7)
    shuffled = {k: raw[k] for k in reversed(list(raw))}
    shuffled["containers"] = {k: raw["containers"][k] for k in reversed(list(raw["containers"]))}
    shuffled["containers"]["images"] = dict(reversed(list(raw["containers"]["images"].items())))
    shuffled["node_classes"] = dict(reversed(list(raw["node_classes"].items())))
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(dump(raw))
    b.write_text(dump(shuffled))
    first = render_site(load_site(a, display="site.yaml"))
    assert first == render_site(load_site(a, display="site.yaml"))
    assert first == render_site(load_site(b, display="site.yaml"))


@pytest.mark.parametrize("n_os", [MAX_CHAIN_DEPTH, MAX_CHAIN_DEPTH + 1])
def test_the_os_clauses_accept_exactly_the_offered_names_in_the_list_and_the_record_form(n_os: int) -> None:
    """START's OS clause and the submit requirement scan a list up to MAX_CHAIN_DEPTH OSes and look a name
    up in a record beyond (constant cost: a list scan per checked OS made `check` quadratic in OS images).
    Both forms: every offered name exactly, never another case, an unknown name, a number or an error."""
    raw = make_site(2000 + n_os, n_os=n_os)
    offered = sorted(raw["containers"]["images"])
    raw["node_classes"] = {"wide": {"interactive": "allowed", "gpus": True}, "narrow": {"interactive": "allowed", "images": [raw["containers"]["default"]]}}
    model, _, configs, parsed = loaded(raw)
    attribute = raw["containers"]["job_attribute"]
    submit = SubmitRole(configs["submit"], parsed["submit"])
    scans = any(f"identicalMember(TARGET.{attribute}," in (configs["submit"].get(f"SUBMIT_REQUIREMENT_{n}") or "")
                for n in submit.requirement_names())
    assert scans is (n_os <= MAX_CHAIN_DEPTH)
    wide = ExecuteRole(configs["execute-wide"], parsed["execute-wide"])
    narrow = ExecuteRole(configs["execute-narrow"], parsed["execute-narrow"])
    slot = {id(role): role.slot(node_attrs(model)) for role in (wide, narrow)}
    samples = [offered[0], offered[len(offered) // 2], offered[-1]]
    for name in samples:
        job = base_job(model, **{attribute: name})
        assert submit.decide(job)[0] is True, name
        assert wide.eval("START", slot[id(wide)], submit.transformed(job)) is True, name
        assert narrow.eval("START", slot[id(narrow)], submit.transformed(job)) is (name == raw["containers"]["default"]), name
    for wrong in [samples[0].swapcase(), samples[-1].upper(), samples[1] + "x", "NoSuchOS", 7]:
        job = base_job(model, **{attribute: wrong})
        assert submit.decide(job)[0] is False, wrong
        assert wide.eval("START", slot[id(wide)], submit.transformed(job)) is False, wrong
    broken = submit.transformed(base_job(model))
    broken[attribute] = classad2.ExprTree("1/0")  # an attribute that evaluates to an error
    assert wide.eval("START", slot[id(wide)], broken) is False
