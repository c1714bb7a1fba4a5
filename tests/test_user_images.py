"""Job-named images (containers.user_images) on varied generated sites: the rendered roles, loaded by
HTCondor's own parser and evaluated with classad2, accept at submit and run in exactly the named image
every path the site's rules allow, through the site's attribute and through container_image, and refuse
every other path at submit with a reason listing the prefixes. The rules are restated here (`allowed`)
from the site's text, not taken from confgen's code; the example's names are never used."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path
from typing import Any

import classad2
import pytest

from confgen.render import render_site
from confgen.site import load_site
from confgen.site.model import Site
from confgen.validate import validate
from confgen.validate.parser import RoleConfig, load_roles
from tests.generate import dump, make_site
from tests.test_meaning import submit_decision as decide  # the schedd's decision: defaults, then each requirement

ATTRIBUTES = ["SingularityImage", "UserImage", "Payload_Image", "WantImagePath"]
PREFIX_SETS = [
    ["/cvmfs/unpacked.cern.ch/"],
    ["/cvmfs/unpacked.cern.ch", "/cvmfs/singularity.opensciencegrid.org/"],
    ["/srv/Images", "/data/containers/sif/", "/cvmfs/sw.example.org/images"],
    ["/opt/a.b+c/imgs/"],
]


def user_images_site(seed: int) -> dict[str, Any]:
    raw = make_site(seed)
    rng = random.Random(f"user-images-{seed}")
    attribute = rng.choice([a for a in ATTRIBUTES if a not in raw.get("job_attributes", {})])
    raw["containers"]["user_images"] = {"attribute": attribute, "allowed": rng.choice(PREFIX_SETS)}
    for cls in raw["node_classes"].values():  # a class's own START clause is tested in test_class_policy.py
        cls.pop("start", None)
    if attribute == "SingularityImage" and rng.random() < 0.5:
        del raw["containers"]["user_images"]["attribute"]  # the default
    return raw


def prefixes(raw: dict[str, Any]) -> list[str]:
    return [p.rstrip("/") + "/" for p in raw["containers"]["user_images"]["allowed"]]


def allowed(path: object, raw: dict[str, Any]) -> bool:
    """The site's rule, restated: a string under an allowed directory (case-sensitive, on a path
    boundary), with something after it, and no '.', '..' or empty segment after the prefix."""
    if not isinstance(path, str):
        return False
    for prefix in prefixes(raw):
        rest = path[len(prefix):]
        if path.startswith(prefix) and rest and all(seg not in ("", ".", "..") for seg in rest.rstrip("/").split("/")) and "//" not in path:
            return True
    return False


def candidates(raw: dict[str, Any], rng: random.Random) -> list[object]:
    out: list[object] = []
    for prefix in prefixes(raw):
        stem = prefix.rstrip("/")
        out += [prefix + "img", prefix + "lib/tool:2.1", prefix + "x.sif", prefix + "a/..b/.c", prefix + "dir/",
                prefix + "a/../../../etc", prefix + "..", prefix + "./x", prefix + "a/.", prefix + "a//b", prefix, stem,
                stem + "x/img", stem + "-other/img", prefix.upper() + "img", prefix.lower() + "img", stem[1:] + "/img",
                "docker://" + stem[1:] + "/img", "/" + prefix + "img", prefix + "img\n", 7]
        parts = ["a", "..", ".", "", "b.sif", "Ä", "c:1"]
        for _ in range(6):
            out.append(prefix + "/".join(rng.choice(parts) for _ in range(rng.randint(1, 4))))
    return out + ["/etc/passwd", "", "relative/img"]


@pytest.fixture(scope="module", params=range(10))
def rendered(request, tmp_path_factory):  # type: ignore[no-untyped-def]
    raw = user_images_site(request.param)
    path: Path = tmp_path_factory.mktemp(f"ui{request.param}") / "site.yaml"
    path.write_text(dump(raw))
    site = load_site(path)
    fragments = render_site(site)
    configs, problems = load_roles(fragments)
    assert problems == []
    return raw, site, fragments, configs



def evaluate(config: RoleConfig, knob: str, job: dict[str, Any], site: Site) -> Any:
    # a healthy node under the names the site's health script publishes, no reboot due
    health = {name: True for name in (site.health_names.healthy, site.health_names.interactive) if name is not None}
    slot = classad2.ClassAd({"PartitionableSlot": True, "Cpus": 8, "Memory": 16000, **health,
                             "RebootNeeded": False, "SiteBootTime": int(time.time()) - 86400})
    for name in (config.get("STARTD_ATTRS") or "").split():
        if config.get(name) is not None:
            slot[name] = classad2.ExprTree(config.get(name))
    defaults = {a.name: a.default for a in site.job_attributes}
    return classad2.ExprTree(config.get(knob)).eval(scope=slot, target=classad2.ClassAd({**defaults, **job}))


def test_the_site_validates_with_every_built_in_check(rendered):  # type: ignore[no-untyped-def]
    _, site, fragments, _ = rendered
    report = validate(site, fragments)
    assert report.errors == []


def test_condor_submit_keeps_container_image_paths_under_the_prefixes(rendered):  # type: ignore[no-untyped-def]
    """condor_submit renames a container_image outside CONTAINER_SHARED_FS to its base name and transfers
    it (seen with the real condor_submit -dump): the submit role lists every prefix, and keeps /cvmfs."""
    raw, _, _, configs = rendered
    listed = [p for p in re.split(r"[\s,]+", configs["submit"].get("CONTAINER_SHARED_FS")) if p]
    assert "/cvmfs" in listed
    for prefix in prefixes(raw):
        assert prefix in listed


@pytest.mark.parametrize("carrier", ["attribute", "container_image"])
def test_allowed_paths_run_in_exactly_that_image_and_others_are_refused_at_submit(rendered, carrier):  # type: ignore[no-untyped-def]
    raw, site, _, configs = rendered
    attr = raw["containers"]["user_images"].get("attribute", "SingularityImage") if carrier == "attribute" else "ContainerImage"
    listed = ", ".join(raw["containers"]["user_images"]["allowed"])
    rng = random.Random(attr)
    for path in candidates(raw, rng):
        job = {attr: path}
        accepted, reason = decide(configs["submit"], job)
        assert accepted is allowed(path, raw), (path, reason)
        if not accepted:
            assert listed in reason, reason
            assert (f'"{path}"' if isinstance(path, str) else str(path)) in reason, reason
        for cls in site.node_classes:
            config = configs[cls.role]
            job_here = {**job, "InteractiveJob": True} if cls.interactive == "only" else job
            if cls.only_gpu_jobs:
                job_here = {**job_here, "RequestGPUs": 1}
            starts = evaluate(config, "START", job_here, site)
            assert starts is allowed(path, raw), (cls.role, path, starts)  # any class: the image is the job's OS
            if starts:
                assert evaluate(config, "SINGULARITY_IMAGE_EXPR", job_here, site) == path
                assert evaluate(config, "SINGULARITY_JOB", job_here, site) is True


def test_a_job_naming_an_image_and_an_os_is_refused_and_one_naming_neither_gets_the_default(rendered):  # type: ignore[no-untyped-def]
    raw, site, _, configs = rendered
    os_attr, image = raw["containers"]["job_attribute"], prefixes(raw)[0] + "img"
    attr = raw["containers"]["user_images"].get("attribute", "SingularityImage")
    for carrier in (attr, "ContainerImage"):
        accepted, reason = decide(configs["submit"], {os_attr: site.offered_anywhere()[0], carrier: image})
        assert not accepted and os_attr in reason, reason
    assert not decide(configs["submit"], {attr: image, "ContainerImage": image + "2"})[0]
    assert decide(configs["submit"], {attr: image, "ContainerImage": image})[0]
    if attr != "SingularityImage":
        accepted, reason = decide(configs["submit"], {"SingularityImage": image})
        assert not accepted and attr in reason, reason
    assert decide(configs["submit"], {})[0]
    default_image = raw["containers"]["images"][raw["containers"]["default"]]
    for cls in site.node_classes:
        assert evaluate(configs[cls.role], "SINGULARITY_IMAGE_EXPR", {}, site) == default_image


def test_without_user_images_a_job_naming_an_image_is_refused_naming_the_os_attribute(tmp_path):  # type: ignore[no-untyped-def]
    for seed in range(4):
        raw = make_site(seed)
        path = tmp_path / f"s{seed}.yaml"
        path.write_text(dump(raw))
        configs, problems = load_roles(render_site(load_site(path)))
        assert problems == []
        image = next(iter(raw["containers"]["images"].values()))
        for attr in ("SingularityImage", "ContainerImage"):
            accepted, reason = decide(configs["submit"], {attr: image})
            assert not accepted and f"by {raw['containers']['job_attribute']}" in reason, reason
        assert decide(configs["submit"], {})[0]


BAD = {
    "relative prefix": ({"allowed": ["cvmfs/unpacked.cern.ch/"]}, "allowed", "not an absolute path"),
    "dot-dot in prefix": ({"allowed": ["/cvmfs/x/../etc/"]}, "allowed", "'..' segment"),
    "comma in prefix": ({"allowed": ["/cvmfs/a,b/"]}, "allowed", "a comma"),
    "dollar in prefix": ({"allowed": ["/cvmfs/$(X)/"]}, "allowed", "'$'"),
    "attribute is the os attribute": ({"attribute": "{os}", "allowed": ["/cvmfs/u/"]}, "attribute", "containers.job_attribute"),
    "attribute is a site attribute": ({"attribute": "Storage", "allowed": ["/cvmfs/u/"]}, "attribute", "job_attributes.Storage"),
    "attribute is ContainerImage": ({"attribute": "ContainerImage", "allowed": ["/cvmfs/u/"]}, "attribute", "container_image"),
    "bad attribute name": ({"attribute": "Image-Path", "allowed": ["/cvmfs/u/"]}, "attribute", "does not match"),
    "no prefix": ({"allowed": []}, "allowed", ""),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_user_images_exit_1_at_the_place(case, tmp_path, run, monkeypatch):  # type: ignore[no-untyped-def]
    raw = make_site(3)
    raw["job_attributes"] = {"Storage": {"type": "string", "values": ["fast", "slow"], "default": "slow"}}
    raw.pop("reboots", None)
    raw.pop("jupyterhub", None)
    section, key, needle = BAD[case]
    section = {k: v.format(os=raw["containers"]["job_attribute"]) if isinstance(v, str) else v for k, v in section.items()}
    raw["containers"]["user_images"] = section
    text = dump(raw)
    (tmp_path / "site.yaml").write_text(text)
    (tmp_path / "output").mkdir()
    monkeypatch.chdir(tmp_path)
    code, out, err = run("render", "site.yaml")
    assert code == 1 and "Traceback" not in out + err, (out, err)
    assert list((tmp_path / "output").iterdir()) == []
    lines = text.splitlines()
    value = section[key][0] if isinstance(section[key], list) and section[key] else section[key]
    shown = f"{key}: []" if value == [] else (value if key == "allowed" else f"{key}: {value}")
    start = next(j for j, line in enumerate(lines, 1) if "user_images:" in line)
    want = next(i for i, line in enumerate(lines, 1) if i > start and shown in line)
    first = out.splitlines()[0]
    assert first.startswith(f"site.yaml:{want}:") and " error: " in first, out
    assert needle in first, out
