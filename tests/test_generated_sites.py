"""Sites confgen has never seen render, pass HTCondor's parser and every built-in check."""

from __future__ import annotations

import classad2
import pytest

from confgen.render import render_site
from confgen.render.expressions import MAX_CHAIN_DEPTH
from confgen.site import load_site
from confgen.validate import validate
from confgen.validate.parser import load_roles
from tests.generate import dump, make_site


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
