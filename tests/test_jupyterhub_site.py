"""The `jupyterhub` section of site.yaml: refused limits name their line and column, and what a valid
section renders (options derived from the site, never from the example's names)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from confgen.hub import options as hub_options
from confgen.hub.description import submit_description
from confgen.render import render_site
from confgen.render.jupyterhub import OPTIONS_FILE, ROLE
from tests.conftest import Run, example_text, site_from_text
from tests.generate import dump, make_site


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(example_text())
    return data


def _no_fs(d: dict[str, Any]) -> None:
    d["security"]["methods"] = ["KERBEROS"]


def _runtime_above_cap(d: dict[str, Any]) -> None:
    d["jupyterhub"]["max_runtime_hours"] = d["job_attributes"]["MaxRuntimeHours"]["interactive_max"] + 1


def _cpus_above_classes(d: dict[str, Any]) -> None:
    d["jupyterhub"]["max_cpus"] = max(c["cpus"] for c in d["node_classes"].values()) + 1


def _memory_above_classes(d: dict[str, Any]) -> None:
    d["jupyterhub"]["max_memory_gb"] = max(c["memory_gb"] for c in d["node_classes"].values()) + 1


def _gpus_without_gpu_class(d: dict[str, Any]) -> None:
    for cls in d["node_classes"].values():
        cls.pop("gpus", None)


def _no_runtime_attribute(d: dict[str, Any]) -> None:
    d["jupyterhub"]["runtime_attribute"] = "WallClockHours"


def _no_interactive_class(d: dict[str, Any]) -> None:
    for cls in d["node_classes"].values():
        cls["interactive"] = "never"
    d["checks"] = []


def _attribute_named_like_an_option(d: dict[str, Any]) -> None:
    d["job_attributes"]["cpus"] = {"type": "integer", "min": 1, "max": 2, "default": 1}


def _attribute_named_like_the_spawners(d: dict[str, Any]) -> None:
    d["job_attributes"]["JupyterEnvironment"] = {"type": "string", "values": ["a"], "default": "a"}


CASES = [
    (_no_fs, "security.methods", "needs FS"),
    (_runtime_above_cap, "jupyterhub.max_runtime_hours", "more than interactive jobs may ask for (MaxRuntimeHours interactive_max is 24 hours); the pool would refuse every notebook "
     "asking for it; write at most 24"),
    (_cpus_above_classes, "jupyterhub.max_cpus", "; write at most 64"),
    (_memory_above_classes, "jupyterhub.max_memory_gb", "; write at most 512"),
    (_gpus_without_gpu_class, "jupyterhub.max_gpus", "no node class with gpus: true"),
    (_no_runtime_attribute, "jupyterhub.runtime_attribute", "but the runtime limit is 'MaxRuntimeHours' (marked runtime: hours)"),
    (_no_interactive_class, "jupyterhub", "no notebook could ever start"),
    (_attribute_named_like_an_option, "job_attributes.cpus", "spawner option"),
    (_attribute_named_like_the_spawners, "job_attributes.JupyterEnvironment", "the JupyterHub spawner sets"),
]


@pytest.mark.parametrize(("change", "where", "says"), CASES, ids=[c.__name__.strip("_") for c, _, _ in CASES])
def test_refused_section_names_line_and_column(change, where, says, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    data = shipped()
    change(data)
    text = yaml.safe_dump(data, sort_keys=False)
    (tmp_path / "site.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("render")
    assert code == 1
    line = next(line for line in out.splitlines() if says in line)
    m = re.match(r"^site\.yaml:(\d+):(\d+): error: (\S+): ", line)
    assert m, line
    assert m.group(3) == where
    # The position is the key the message is about, or its value (a block list starts a line later).
    lines = text.splitlines()
    near = lines[int(m.group(1)) - 2] + lines[int(m.group(1)) - 1]
    assert where.split(".")[-1] in near, (near, line)
    assert not (tmp_path / "output").exists()


def options_of(text: str) -> dict[str, Any]:
    frag = next(f for f in render_site(site_from_text(text)) if (f.role, f.name) == (ROLE, OPTIONS_FILE))
    options: dict[str, Any] = json.loads(frag.text)
    return options


@pytest.mark.parametrize("seed", [s for s in range(40) if "jupyterhub" in make_site(s)][:8])
def test_generated_sites_offer_exactly_their_notebook_oses_and_limits(seed: int) -> None:
    raw = make_site(seed)
    site = site_from_text(dump(raw))
    options = options_of(dump(raw))
    hub = raw["jupyterhub"]
    runs_notebooks = [c for c in raw["node_classes"].values() if c["interactive"] != "never"]
    expected = [os for os in raw["containers"]["images"] if any(os in c.get("images", raw["containers"]["images"]) for c in runs_notebooks)]
    assert options["os"]["choices"] == sorted(expected)
    assert options["os"]["attribute"] == raw["containers"]["job_attribute"]
    # the runtime attribute the site marks (in its unit), else the one the older key names (hours)
    marked = [(name, a["runtime"]) for name, a in raw["job_attributes"].items() if "runtime" in a]
    runtime, unit = marked[0] if marked else (hub["runtime_attribute"], "hours")
    per_hour = {"hours": 1, "minutes": 60, "seconds": 3600}[unit]
    assert options["runtime_hours"]["attribute"] == runtime and options["runtime_hours"]["max"] == hub["max_runtime_hours"]
    assert (options["cpus"]["max"], options["memory_gb"]["max"], options["gpus"]["max"]) == (hub["max_cpus"], hub["max_memory_gb"], hub["max_gpus"])
    # Every corner is a valid choice that the spawner writes a description for; one past each limit is not.
    for corner in hub_options.corners(options):
        choice = hub_options.check(options, corner)
        text = submit_description(options, choice, executable="/srv/hub/x/notebook", initialdir="/srv/hub/x")
        assert f'MY.{raw["containers"]["job_attribute"]} = "{choice.os}"' in text and f"MY.{runtime} = {choice.runtime_hours * per_hour}" in text
        assert ("request_gpus" in text) == (choice.gpus > 0)
    for name in ("cpus", "memory_gb", "runtime_hours"):
        with pytest.raises(hub_options.OptionsError):
            hub_options.check(options, {name: options[name]["max"] + 1})
    with pytest.raises(hub_options.OptionsError):
        hub_options.check(options, {"os": "NoSuchOS9"})
    assert site.jupyterhub is not None


def test_a_class_offering_a_single_os_gives_a_one_entry_list() -> None:
    data = shipped()
    for cls in data["node_classes"].values():
        cls["images"] = ["Debian12"]
    data["jupyterhub"]["max_gpus"] = 1
    data["checks"] = []
    options = options_of(yaml.safe_dump(data))
    assert options["os"]["choices"] == ["Debian12"]
    assert options["os"]["default"] == "Debian12"  # the site default (Rocky9) is offered nowhere
    assert options["os"]["with_gpus"] == ["Debian12"]
