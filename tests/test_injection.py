"""Values that try to escape their place in a config line or a ClassAd expression. Each is refused
with a site.yaml:LINE:COL error, or rendered so that HTCondor's parser sees exactly the knobs of the
clean site (no smuggled line) and the value itself where it belongs."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from confgen.render import render_site
from confgen.site import load_site
from confgen.validate.parser import load_roles
from tests.conftest import example_text, site_from_text

HOSTILE = ["x\nALLOW_WRITE = *", "x\rSTART = True", 'x"y', "x\\", "$(FULL_HOSTNAME)", "$ENV(HOME)", "x #y",
           "x @=end", "x || true", "x)", "x,y", "x:y", "x\u2028y", "x\x00y", "x y", "/abs\nALLOW_WRITE = *", "/a,b:c"]


def _set_os(site: dict[str, Any], v: str) -> None:
    images = site["containers"]["images"]
    images[v] = images.pop("Debian11")


def _set_path(key: str) -> Callable[[dict[str, Any], str], None]:
    def setter(site: dict[str, Any], v: str) -> None:
        site["containers"][key] = v
    return setter


FIELDS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "os name": _set_os,
    "image path": lambda s, v: s["containers"]["images"].__setitem__("Rocky8", v),
    "bind": lambda s, v: s["containers"]["binds"].append(v),
    "bind target": lambda s, v: s["containers"]["binds"].append({"source": "/data", "target": v}),
    "target dir": _set_path("target_dir"),
    "runtime": _set_path("runtime"),
    "job attribute name": lambda s, v: s["containers"].__setitem__("job_attribute", v),
    "blocked user": lambda s, v: s["security"]["blocked_users"].append(v),
    "realm": lambda s, v: s["security"]["kerberos"].__setitem__("realm", v),
    "uid domain": lambda s, v: s["site"].__setitem__("uid_domain", v),
    "central manager": lambda s, v: s["site"]["central_managers"].__setitem__(0, v),
    "private network": lambda s, v: s["network"].__setitem__("private_network_name", v),
    "attribute value": lambda s, v: s["job_attributes"]["CephFS_IO"]["values"].append(v),
    "attribute name": lambda s, v: s["job_attributes"].__setitem__(v, {"type": "integer", "min": 0, "max": 1, "default": 0}),
    "check name": lambda s, v: s["checks"][0].__setitem__("name", v),
    "health script": lambda s, v: s["health"].__setitem__("script", v),
    "threads variable": lambda s, v: s["threads_env"].append(v),
    "pool name": lambda s, v: s["site"].__setitem__("name", v),
}

CLEAN = yaml.safe_load(example_text())


@pytest.fixture(scope="module")
def clean_knobs() -> dict[str, set[str]]:
    path_site = site_from_text(yaml.safe_dump(CLEAN, allow_unicode=False))
    configs, problems = load_roles(render_site(path_site))
    assert problems == []
    return {role: set(c.knobs) for role, c in configs.items()}


@pytest.mark.parametrize("field", list(FIELDS))
def test_hostile_values_are_refused_or_inert(field, clean_knobs, run, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for value in HOSTILE:
        data = copy.deepcopy(CLEAN)
        FIELDS[field](data, value)
        (tmp_path / "site.yaml").write_text(yaml.safe_dump(data, allow_unicode=False))
        code, out, err = run("check", "site.yaml")
        assert "Traceback" not in out + err and code in (0, 1), (field, value, out, err)
        if code == 1:
            assert re.match(r"^site\.yaml:\d+:\d+: error: ", out), (field, value, out)
            continue
        site = load_site(tmp_path / "site.yaml")
        configs, problems = load_roles(render_site(site))
        assert problems == []
        for role, config in configs.items():
            assert set(config.knobs) == clean_knobs.get(role, set(config.knobs)), (field, value, role)
            for knob, text in config.knobs.items():
                assert "ALLOW_WRITE = *" not in (text or ""), (field, value, knob)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_in_sample_job_ads_are_literal_or_refused(value, run, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A check's job and slot values become ClassAd values: the evaluator sees exactly the text written."""
    from confgen.validate.evaluate import SubmitRole, job_ad, parse_all

    monkeypatch.chdir(tmp_path)
    data = copy.deepcopy(CLEAN)
    attr = data["containers"].get("job_attribute", "ContainerOS")
    data["checks"] = [
        {"name": "hostile OS name is refused at submit", "job": {attr: value}, "expect": {"submit": "rejected", "reason": value}},
        {"name": "hostile slot value does not start a job", "job": {attr: "x"}, "slot": {"NodeIsHealthy": value}, "expect": {"start": False}},
    ]
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(data, allow_unicode=False))
    code, out, err = run("check", "site.yaml")
    if "\x00" in value:
        assert code == 1 and re.match(r"^site\.yaml:\d+:\d+: error: checks\[0\]\.job\.\w+: .* NUL character", out), out
        return
    assert code == 0 and "Traceback" not in out + err, out + err
    assert job_ad({attr: value}).eval(attr) == value  # the value arrives as one literal string
    configs, problems = load_roles(render_site(load_site(tmp_path / "site.yaml")))
    assert problems == []
    exprs, _ = parse_all(configs, "output")
    accepted, reason = SubmitRole(configs["submit"], exprs["submit"]).decide({attr: value})
    assert accepted is False and value in reason  # refused by the OS check, the reason quoting it exactly
