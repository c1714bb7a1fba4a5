"""confgen/render/compiled/ is what scripts/compile_templates.py makes of the templates, every template
renders from its compiled module, and a module that no longer matches its template is not used."""

from __future__ import annotations

import subprocess
import sys

import jinja2
import pytest

from confgen.render import precompiled
from confgen.render.env import make_env
from tests.conftest import ROOT


def test_the_compiled_templates_are_current() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "compile_templates.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name", make_env().list_templates())
def test_each_template_comes_from_its_module(name: str) -> None:
    template = make_env().get_template(name)
    assert template.root_render_func.__module__ == f"{precompiled.PACKAGE}.{precompiled.module_name(name)}"


def test_a_stale_module_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precompiled, "digest", lambda source: "not the digest of any module")
    env = jinja2.Environment(loader=precompiled.PrecompiledLoader("confgen.render", "templates"), **{
        k: getattr(make_env(), k) for k in ("undefined", "keep_trailing_newline", "trim_blocks", "lstrip_blocks", "autoescape")})
    env.filters.update(make_env().filters)
    name = make_env().list_templates()[0]
    stale = env.get_template(name)
    assert stale.root_render_func.__module__ != f"{precompiled.PACKAGE}.{precompiled.module_name(name)}"  # compiled from the template
