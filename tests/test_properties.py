"""Property tests: sites generated from schemas/site.schema.json by hypothesis-jsonschema.

1. Every schema-valid site either renders and passes the real-parser validation, or is refused with
   `site.yaml:LINE:COL` errors and exit 1 (semantic errors, the security lint, or one of the site's own
   `checks`); never a traceback, never exit 3, never a hang, and a refused site writes nothing.
2. Rendering is deterministic and independent of the order of keys in site.yaml.

Two generators: the published schema as it is (most such sites are refused by the semantic checks,
which is what they exercise), and the same schema with some strings narrowed towards realistic names,
with the default OS and each class's OSes then picked among the images (every such site is still
schema-valid; the test asserts that), so that many render.

Default run: the `ci` profile (see conftest.py). A longer run:
    .venv/bin/python -m pytest tests/test_properties.py --hypothesis-profile=long
"""

from __future__ import annotations

import copy
import io
import json
import random
import re
import shutil
import signal
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from confgen.cli import main
from confgen.errors import InputError
from confgen.render import render_site
from tests import unambiguous_yaml
from tests.conftest import ROOT, site_from_text

SCHEMA = json.loads((ROOT / "schemas" / "site.schema.json").read_text())
REFUSAL = re.compile(r"^site\.yaml:\d+:\d+: error: .* \((semantic|security|check|limit)\)$")
HANG_BOUND_S = 60  # per example: loading, rendering, HTCondor's parser in its child, all evaluations


def _narrowed() -> dict[str, Any]:
    schema = copy.deepcopy(SCHEMA)
    props = schema["properties"]
    images = props["containers"]["properties"]["images"]
    images["propertyNames"] = {"pattern": "^[A-Z][a-z]{1,5}[0-9]{0,2}$"}
    images["additionalProperties"] = {"type": "string", "pattern": "^(/[a-z0-9_.-]{1,12}){1,3}$"}
    images["maxProperties"] = 8
    bind = props["containers"]["properties"]["binds"]
    bind["items"] = {"type": "string", "pattern": "^(/[a-z0-9_-]{1,10}){1,3}$"}
    bind["maxItems"] = 3
    props["containers"]["properties"]["runtime"] = {"type": "string", "pattern": "^/usr/bin/[a-z]{3,10}$"}
    props["containers"]["properties"]["target_dir"] = {"type": "string", "pattern": "^/[a-z]{1,10}$"}
    props["site"]["properties"]["central_managers"]["maxItems"] = 2
    props["site"]["properties"]["config_dir"] = {"type": "string", "pattern": "^/etc/[a-z]{1,8}$"}
    props["security"]["properties"]["methods"]["items"] = {"enum": ["KERBEROS", "FS", "IDTOKENS", "SCITOKENS", "SSL"]}
    props["node_classes"]["maxProperties"] = 3
    props["checks"]["maxItems"] = 0
    props["job_attributes"]["maxProperties"] = 3
    for section in ("health", "reboots"):
        props[section]["properties"]["script" if section == "health" else "check"] = {"type": "string", "pattern": "^/usr/local/sbin/[a-z-]{1,12}$"}
        props[section]["properties"]["period"] = {"type": "string", "pattern": "^[1-9][0-9]{0,2}[smh]$"}
    # host kinds: at most one, a central manager that is also an access point (random members are
    # refused by the semantic checks, which the first generator exercises)
    props["hosts"]["propertyNames"] = {"pattern": "^[a-z]{1,8}-kind$"}
    props["hosts"]["additionalProperties"] = {"type": "array", "items": {"enum": ["central-manager", "submit"]},
                                              "minItems": 2, "maxItems": 2, "uniqueItems": True}
    props["hosts"]["maxProperties"] = 1
    return schema


@st.composite
def realistic_sites(draw: st.DrawFn) -> dict[str, Any]:
    site = draw(from_schema(_narrowed()))
    oses = sorted(site["containers"]["images"])
    site["containers"]["default"] = draw(st.sampled_from(oses))
    for cls in site["node_classes"].values():
        if "images" in cls:
            cls["images"] = draw(st.lists(st.sampled_from(oses), min_size=1, unique=True))
    security = site.setdefault("security", {})
    if "kerberos" not in security:  # KERBEROS (also in the default list) needs a realm
        security["methods"] = [m for m in security.get("methods", ["FS", "IDTOKENS"]) if m != "KERBEROS"] or ["FS"]
    jsonschema.validate(site, SCHEMA)  # still a site of the published schema
    return site


def shuffled(value: Any, rnd: random.Random) -> Any:
    """The same site with the keys of every mapping in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rnd) for v in value]
    return value


def dump(site: dict[str, Any]) -> str:
    return unambiguous_yaml.dump(site, sort_keys=False, allow_unicode=True)


class Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang(f"confgen took longer than {HANG_BOUND_S} s")


def render_cli(text: str) -> tuple[int, str, str, Path]:
    workdir = Path(tempfile.mkdtemp(prefix="confgen-prop-"))
    (workdir / "site.yaml").write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_BOUND_S)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["render", str(workdir / "site.yaml"), "-o", str(workdir / "output")])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    # the CLI names the file as given; report it as site.yaml, as a user in the site repository sees it
    return code, out.getvalue().replace(f"{workdir}/", ""), err.getvalue(), workdir


def check_renders_or_is_refused(site: dict[str, Any]) -> None:
    text = dump(site)
    note(text)
    code, out, err, workdir = render_cli(text)
    try:
        _renders_or_is_refused(code, out, err, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _renders_or_is_refused(code: int, out: str, err: str, workdir: Path) -> None:
    assert "Traceback" not in out + err
    assert code in (0, 1), (code, out, err)
    if code == 1:
        lines = out.splitlines()
        assert lines, err
        bad = [line for line in lines if not REFUSAL.match(line) or (line.endswith("(check)") and ": checks[" not in line)]
        assert not bad, bad  # anything else is a confgen bug: it rendered what HTCondor or its own checks refuse
        assert not (workdir / "output").exists()  # refused: nothing written
        event(f"refused: {lines[0].split(': error: ', 1)[1].split(':', 1)[0]}")
    else:
        event("rendered and validated")
        assert any((workdir / "output").iterdir())
        with redirect_stdout(io.StringIO()) as again:
            assert main(["render", str(workdir / "site.yaml"), "-o", str(workdir / "output"), "--check"]) == 0, again.getvalue()


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(from_schema(SCHEMA))
def test_any_schema_valid_site_renders_or_is_refused_with_its_place(site: dict[str, Any]) -> None:
    check_renders_or_is_refused(site)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(realistic_sites())
def test_realistic_sites_render_or_are_refused_with_their_place(site: dict[str, Any]) -> None:
    check_renders_or_is_refused(site)


def fragments(text: str) -> list[tuple[str, str, str]] | None:
    try:
        site = site_from_text(text)
    except InputError:
        return None
    return [(f.role, f.name, f.text) for f in render_site(site)]


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(realistic_sites(), st.randoms(use_true_random=False))
def test_rendering_is_deterministic_and_independent_of_key_order(site: dict[str, Any], rnd: random.Random) -> None:
    first = fragments(dump(site))
    event("rendered" if first is not None else "refused")
    assume(first is not None)
    assert fragments(dump(site)) == first
    assert fragments(dump(shuffled(site, rnd))) == first
