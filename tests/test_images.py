"""output/images/ (confgen/render/images.py) and containers.login_environment, without a pool: what is
rendered from the site, that HTCondor's real parser never reads images/, and what it reads on the execute
roles when the option is on. The snippet's behaviour under real shells and real job ads, and the option in
a real pool, are proven in tests/pool/test_login_images.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from confgen.errors import InputError
from confgen.render import htcondor_roles, render_site
from confgen.render import images as img
from confgen.site.advice import site_warnings
from confgen.site.model import Site
from confgen.validate.parser import load_roles
from tests import unambiguous_yaml
from tests.conftest import ROOT, example_text, site_from_text

VARIED = {  # shares no name with the shipped site
    "site": {"name": "IMG", "uid_domain": "img.example", "central_managers": ["cm.img.example"]},
    "security": {"methods": ["FS"]},
    "containers": {"job_attribute": "WantDistro", "default": "Leap15", "images": {"Leap15": "/images/leap15", "Alma9": "/images/alma9"}},
    "threads_env": ["BLIS_NUM_THREADS", "MY_APP_THREADS"],
    "node_classes": {"shared": {"interactive": "allowed"}},
}


def varied(**containers: Any) -> Site:
    doc = json.loads(json.dumps(VARIED))
    doc["containers"].update(containers)
    return site_from_text(unambiguous_yaml.dump(doc, sort_keys=False))


def shipped(**containers: Any) -> Site:
    doc = yaml.safe_load(example_text())
    doc["containers"].update(containers)
    return site_from_text(unambiguous_yaml.dump(doc, sort_keys=False))


def images_of(site: Site) -> dict[str, str]:
    return {f.name: f.text for f in render_site(site) if f.role == img.ROLE}


def test_images_has_the_snippet_the_hook_and_one_recipe_per_os_of_the_site() -> None:
    site = varied()
    files = images_of(site)
    assert set(files) == {img.SNIPPET, img.HOOK} | {f"recipes/{os_name}.def" for os_name in site.images}
    snippet = files[img.SNIPPET]
    for name in site.threads_env:
        assert f'export {name}="$_confgen_cpus"' in snippet
    for os_name, path in site.images.items():
        recipe = files[f"recipes/{os_name}.def"]
        assert path in recipe.splitlines()[0]
        assert f"    {img.SNIPPET} {img.SNIPPET_TARGET}" in recipe and f"    {img.HOOK} {img.HOOK_TARGET}" in recipe


def test_the_snippet_is_plain_posix_sh_and_never_evaluates_ad_text() -> None:
    snippet = images_of(shipped())[img.SNIPPET]
    code = [line for line in snippet.splitlines() if not line.lstrip().startswith("#")]
    for word in ("eval", "python", "condor_", "source ", "local ", "[[", "$((", "`"):
        assert not [line for line in code if word in line], word
    # the shells' own parsers accept it (dash, and bash in POSIX mode; at least one is on every test host)
    shells = [argv for argv in (["dash", "-n"], ["bash", "--posix", "-n"]) if shutil.which(argv[0])]
    assert shells
    for shell in shells:
        proc = subprocess.run(shell, input=snippet, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (shell, proc.stderr)


def test_images_is_never_read_by_htcondor_and_is_not_a_role() -> None:
    fragments = render_site(shipped())
    assert not [f for f in htcondor_roles(fragments) if f.role == img.ROLE]
    configs, problems = load_roles(fragments)
    assert img.ROLE not in configs and not problems


def test_the_option_sets_the_switch_of_the_hook_on_every_execute_role_as_htcondor_reads_it() -> None:
    for site, expected in ((varied(), None), (varied(login_environment=True), f"{img.LOGIN_SWITCH}=1")):
        configs, problems = load_roles(render_site(site), also_read=["STARTER_JOB_ENVIRONMENT"])
        assert not problems
        for cls in site.node_classes:
            value = configs[cls.role].knobs.get("STARTER_JOB_ENVIRONMENT")
            assert (value or None) == (f'"{expected}"' if expected else None), (cls.role, value)
        assert "STARTER_JOB_ENVIRONMENT" not in configs["submit"].knobs or not configs["submit"].knobs["STARTER_JOB_ENVIRONMENT"]
    hook = images_of(varied())[img.HOOK]
    assert f'"${{{img.LOGIN_SWITCH}-}}" = 1' in hook and ". /etc/profile" in hook


def test_the_shipped_site_renders_no_switch() -> None:
    site = shipped()
    assert not site.login_environment
    assert not [f for f in htcondor_roles(render_site(site)) if "STARTER_JOB_ENVIRONMENT" in f.text]


def test_a_site_whose_jobs_may_run_outside_the_images_is_warned() -> None:
    assert not site_warnings(varied(login_environment=True))
    assert not site_warnings(varied(all_jobs=False))
    warned = site_warnings(varied(login_environment=True, all_jobs=False))
    assert len(warned) == 1 and warned[0].severity == "warning" and "WantDistro" in warned[0].message


def test_the_schema_describes_the_option() -> None:
    schema = json.loads((ROOT / "schemas" / "site.schema.json").read_text())
    option = schema["properties"]["containers"]["properties"]["login_environment"]
    assert option["type"] == "boolean" and option["default"] is False and "STARTER_JOB_ENVIRONMENT" in option["description"]


def test_a_host_kind_may_not_be_named_images() -> None:
    doc = json.loads(json.dumps(VARIED))
    doc["hosts"] = {img.ROLE: ["central-manager", "submit"]}
    with pytest.raises(InputError) as failed:
        site_from_text(unambiguous_yaml.dump(doc, sort_keys=False))
    assert [d for d in failed.value.diagnostics if "'images' is already the name of a role directory of output/" in d.message]
