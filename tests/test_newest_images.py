"""Images resolved on the node (containers.images.<OS>: {path, newest}): the rendered resolver script,
run for real by dash and by bash in POSIX mode over real directories (missing, empty, hostile names),
its answers read back by HTCondor's own config parser (htcondor2, through confgen's parser module);
`confgen check` with its sample resolution and its note; the site checks with positions.

Expectations come from the generated site's own values (its path, glob, image macros), never from the
example's names. Nothing here is a stand-in; the execute node's side is in tests/pool/test_newest_image.py."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from confgen.render import Fragment, render_site
from confgen.render import newest_images as newest
from confgen.site import load_site
from confgen.site.model import Site
from confgen.validate import validate
from confgen.validate.parser import load_roles
from tests.generate import dump, make_site

SHELLS = [["/usr/bin/dash"], ["/usr/bin/bash", "--posix"]]
GOOD = ["20250101", "20260101", "20251231.1"]
NEWEST = "20260101"
#: Names the glob matches that must never be printed: each sorts after NEWEST, so a resolver that
#: let one through would pick it.
HOSTILE = [
    "20991231\nEVIL = 1", "20990101$(reboot)", "20990102`id`", '20990103"q', "20990104'q", "20990105 space",
    "20990106#c", "20990107=x", "2099" + "9" * 200, "20990108~", "20990109\\", "20990110:ro", "20990111,x",
    "20990112\tt", "20990113\u00e9", "20990114;rm", "20990115|x", "20990116*", "20990117?", "20990118[a]",
]


def newest_site(tmp_path: Path, seed: int = 3) -> tuple[Site, list[Fragment], Path]:
    """A generated site whose default OS is resolved on the node under tmp_path/builds."""
    raw = make_site(seed)
    default = raw["containers"]["default"]
    builds = tmp_path / "builds"
    raw["containers"]["images"][default] = {"path": str(builds), "newest": "20*"}
    (tmp_path / "site.yaml").write_text(dump(raw))
    site = load_site(tmp_path / "site.yaml")
    return site, render_site(site), builds


def run_script(shell: list[str], site: Site, os_name: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The rendered script, with the arguments of the rendered include line (LOCAL_DIR made local)."""
    r = newest.resolution(site, os_name)
    script = next(f.text for f in render_site(site) if f.name == f"{newest.SCRIPT_DIR}/{newest.SCRIPT_NAME}")
    args = r.command.split()[2:]
    local = (env or {})["LOCAL_DIR"]
    args = [a.replace(newest.CACHE_DIR, local) for a in args]
    return subprocess.run([*shell, "-c", script, "newest-image", *args], capture_output=True, text=True, timeout=30)


def make_builds(builds: Path, names: list[str]) -> None:
    builds.mkdir(parents=True, exist_ok=True)
    for name in names:
        (builds / name).mkdir()


def answer(site: Site, os_name: str, build: str) -> str:
    return f"{newest.resolution(site, os_name).macro} = {site.newest[os_name].path}/{build}\n"


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: " ".join(s))
def test_resolver_picks_newest_and_skips_hostile_names(shell: list[str], tmp_path: Path) -> None:
    site, _, builds = newest_site(tmp_path)
    os_name = site.default_os
    local = tmp_path / "local"
    local.mkdir()
    env = {"LOCAL_DIR": str(local)}
    assert run_script(shell, site, os_name, env).stdout == ""  # missing directory, no last answer
    make_builds(builds, [])
    assert run_script(shell, site, os_name, env).stdout == ""  # empty directory
    make_builds(builds, HOSTILE)
    (builds / "20999999-dangling").symlink_to(tmp_path / "nowhere")
    (builds / ".20999999").mkdir()
    proc = run_script(shell, site, os_name, env)
    assert (proc.stdout, proc.returncode) == ("", 0), "only hostile names: nothing printed"
    make_builds(builds, GOOD + ["2026010", "19991231", "2026-12-31"])
    (builds / "20260101.sif.part").mkdir()  # sorts after NEWEST in byte order: a real, odd build name
    proc = run_script(shell, site, os_name, env)
    assert proc.stdout == answer(site, os_name, "20260101.sif.part"), proc
    (builds / "20260101.sif.part").rmdir()
    assert run_script(shell, site, os_name, env).stdout == answer(site, os_name, NEWEST)


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: " ".join(s))
def test_resolver_falls_back_to_last_good_answer(shell: list[str], tmp_path: Path) -> None:
    site, _, builds = newest_site(tmp_path)
    os_name = site.default_os
    local = tmp_path / "local"
    local.mkdir()
    env = {"LOCAL_DIR": str(local)}
    make_builds(builds, GOOD)
    assert run_script(shell, site, os_name, env).stdout == answer(site, os_name, NEWEST)
    for name in GOOD:
        (builds / name).rmdir()
    make_builds(builds, HOSTILE[:3])
    assert run_script(shell, site, os_name, env).stdout == answer(site, os_name, NEWEST), "CVMFS empty: the last good answer"
    builds.rmdir() if not any(builds.iterdir()) else None
    state = Path(newest.resolution(site, os_name).state.replace(newest.CACHE_DIR, str(local)))
    for tampered in ["EVIL = 1\n", answer(site, os_name, "x$(reboot)"), answer(site, os_name, NEWEST).replace("\n", "\nEVIL = 1\n")[:-1] + "\n"]:
        state.write_text(tampered)
        out = run_script(shell, site, os_name, env).stdout
        assert out in ("", answer(site, os_name, NEWEST)) and "EVIL" not in out and "$" not in out, (tampered, out)


def test_htcondor_reads_the_resolved_image(tmp_path: Path) -> None:
    """HTCondor's parser reads each answer of the real script as the image macro, and the chain gives it."""
    site, fragments, builds = newest_site(tmp_path)
    os_name = site.default_os
    macro = newest.resolution(site, os_name).macro
    local = tmp_path / "local"
    local.mkdir()
    make_builds(builds, GOOD + HOSTILE)
    out = run_script(["/bin/sh"], site, os_name, {"LOCAL_DIR": str(local)}).stdout
    role = next(c.role for c in site.node_classes)
    texts = [Fragment(f.role, f.name, f.text) for f in fragments if f.role == role]
    texts.append(Fragment(role, "99-resolved.conf", out))  # what the include brings, as a file
    configs, problems = load_roles(texts, also_read=[macro])
    assert not problems
    assert configs[role].get(macro) == f"{site.newest[os_name].path}/{NEWEST}"


def test_check_uses_sample_and_says_so(tmp_path: Path) -> None:
    site, fragments, _ = newest_site(tmp_path)
    report = validate(site, fragments)
    assert report.ok, [d.format() for d in report.errors]
    notes = [d for d in report.diagnostics if d.code == "newest"]
    assert len(notes) == 1 and notes[0].severity == "note"
    assert f"assumed {newest.resolution(site, site.default_os).macro} = {site.newest[site.default_os].path}/20*" in notes[0].message
    execute = [f for f in fragments if f.name == "50-containers.conf" and f.role.startswith("execute-")]
    assert execute and all(f"\ninclude command into {newest.CACHE_DIR}/" in f.text for f in execute)
    assert all(f"\n{newest.CACHE_MACRO} = $({newest.CACHE_KNOB}:$(LOCAL_DIR))\n" in f.text for f in execute)


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"path": "relative/dir", "newest": "20*"}, "path", "not an absolute path"),
    ({"path": "/cvmfs/x y", "newest": "20*"}, "path", "characters the node's resolver refuses"),
    ({"path": "/cvmfs/$(X)", "newest": "20*"}, "path", "characters the node's resolver refuses"),
    ({"path": "/cvmfs/../etc", "newest": "20*"}, "path", "'..' segment"),
    ({"path": "/", "newest": "20*"}, "path", "cannot hold the builds"),
    ({"path": "/cvmfs/img", "newest": "../*"}, "newest", "contains '/'"),
    ({"path": "/cvmfs/img", "newest": "..*"}, "newest", "contains '..'"),
    ({"path": "/cvmfs/img", "newest": "20* x"}, "newest", "characters a build name cannot hold"),
    ({"path": "/cvmfs/img", "newest": ".20*"}, "newest", "starts with '.'"),
]


@pytest.mark.parametrize("value,key,words", BAD, ids=[f"{b[1]}-{b[2][:20]}" for b in BAD])
def test_invalid_newest_points_at_the_key(value: dict[str, Any], key: str, words: str, tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    raw = make_site(random.Random(key + words).randrange(50))
    default = raw["containers"]["default"]
    raw["containers"]["images"][default] = value
    path = tmp_path / "site.yaml"
    path.write_text(dump(raw))
    code, out, _ = run("check", str(path))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.strip().startswith(f"{key}:") and str(value[key])[:5] in text)
    assert code == 1
    assert any(f"site.yaml:{line}:" in row and f"containers.images.{default}.{key}" in row and words in row for row in out.splitlines()), out


def test_a_trailing_slash_is_dropped(tmp_path: Path) -> None:
    raw = make_site(4)
    default = raw["containers"]["default"]
    raw["containers"]["images"][default] = {"path": str(tmp_path / "builds") + "//", "newest": "20*"}
    (tmp_path / "site.yaml").write_text(dump(raw))
    site = load_site(tmp_path / "site.yaml")
    assert site.newest[default].path == str(tmp_path / "builds") and site.images[default] == f"{tmp_path}/builds/20*"


def test_string_images_render_as_before(tmp_path: Path) -> None:
    raw = make_site(5)
    (tmp_path / "site.yaml").write_text(dump(raw))
    site = load_site(tmp_path / "site.yaml")
    assert not site.newest
    assert not any("include" in f.text or f.name.startswith(newest.SCRIPT_DIR) for f in render_site(site))


def test_script_is_posix_sh() -> None:
    """checkbashisms-like guard: the script parses under dash -n."""
    proc = subprocess.run(["/usr/bin/dash", "-n", "-c", newest.SCRIPT], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert os.path.basename(newest.SCRIPT_NAME).endswith(".sh")
