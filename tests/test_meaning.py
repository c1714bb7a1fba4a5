"""What the rendered output of the shipped site means: the files in output/ are loaded by HTCondor's
own parser (htcondor2, in a child process) and their expressions evaluated with classad2 against
sample job ads. Expected values come from site.yaml itself, not from confgen's code."""

from __future__ import annotations

import time
from typing import Any

import classad2
import pytest
import yaml

from confgen.render import Fragment
from confgen.validate.parser import load_roles
from tests.conftest import ROOT

SITE: dict[str, Any] = yaml.safe_load((ROOT / "site.yaml").read_text())
ATTR = SITE["containers"]["job_attribute"]
IMAGES: dict[str, str] = SITE["containers"]["images"]
DEFAULT = SITE["containers"]["default"]
CLASSES: dict[str, Any] = SITE["node_classes"]


def _output_fragments() -> list[Fragment]:
    out = []
    for path in sorted((ROOT / "output").rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            role, name = path.relative_to(ROOT / "output").as_posix().split("/", 1)
            out.append(Fragment(role, name, path.read_text()))
    return out


@pytest.fixture(scope="module")
def roles():  # type: ignore[no-untyped-def]
    configs, problems = load_roles(_output_fragments())
    assert problems == []
    return configs


def slot_for(config, **extra: Any) -> classad2.ClassAd:  # type: ignore[no-untyped-def]
    slot = classad2.ClassAd({"PartitionableSlot": True, "Cpus": 8, "Memory": 16000,
                             "NodeIsHealthy": True, "HealthyForInteractiveUse": True,
                             "RebootNeeded": False, "SiteBootTime": int(time.time()) - 86400})
    for name in (config.get("STARTD_ATTRS") or "").split():
        if config.get(name) is not None:
            slot[name] = classad2.ExprTree(config.get(name))
    for key, value in extra.items():
        slot[key] = value
    return slot


def evaluate(config, knob: str, job: dict[str, Any], **slot_extra: Any) -> Any:  # type: ignore[no-untyped-def]
    text = config.get(knob)
    assert text is not None, f"{knob} is not set"
    job = {"Owner": "alice", "MaxRuntimeHours": 3, **job}
    return classad2.ExprTree(text).eval(scope=slot_for(config, **slot_extra), target=classad2.ClassAd(job))


def offered(cls: str) -> list[str]:
    return CLASSES[cls].get("images", list(IMAGES))


@pytest.mark.parametrize("cls", list(CLASSES))
def test_every_offered_os_gets_its_own_image(roles, cls):  # type: ignore[no-untyped-def]
    config = roles[f"execute-{cls}"]
    for os_name in offered(cls):
        assert evaluate(config, "SINGULARITY_IMAGE_EXPR", {ATTR: os_name}) == IMAGES[os_name]


@pytest.mark.parametrize("cls", list(CLASSES))
def test_a_job_naming_no_os_gets_the_default(roles, cls):  # type: ignore[no-untyped-def]
    config = roles[f"execute-{cls}"]
    assert evaluate(config, "SINGULARITY_IMAGE_EXPR", {}) == IMAGES[DEFAULT]


@pytest.mark.parametrize("cls", list(CLASSES))
def test_every_job_runs_in_a_container(roles, cls):  # type: ignore[no-untyped-def]
    config = roles[f"execute-{cls}"]
    for job in ({}, {ATTR: DEFAULT}, {ATTR: "Nope"}, {"InteractiveJob": True}):
        assert evaluate(config, "SINGULARITY_JOB", job) is True


@pytest.mark.parametrize("cls", list(CLASSES))
def test_an_os_the_class_does_not_offer_never_starts(roles, cls):  # type: ignore[no-untyped-def]
    config = roles[f"execute-{cls}"]
    interactive = CLASSES[cls].get("interactive") == "only"
    for os_name in [o for o in IMAGES if o not in offered(cls)] + ["CentOS7", DEFAULT.lower()]:
        assert evaluate(config, "START", {ATTR: os_name, "InteractiveJob": interactive}) is False
    for os_name in offered(cls):
        assert evaluate(config, "START", {ATTR: os_name, "InteractiveJob": interactive}) is True


def test_gpu_class_never_starts_debian12(roles):  # type: ignore[no-untyped-def]
    assert evaluate(roles["execute-gpu"], "START", {ATTR: "Debian12"}) is False


@pytest.mark.parametrize("cls", list(CLASSES))
def test_bind_list_holds_every_bind(roles, cls):  # type: ignore[no-untyped-def]
    binds = evaluate(roles[f"execute-{cls}"], "SINGULARITY_BIND_EXPR", {})
    tokens = binds.split(",")
    for bind in SITE["containers"]["binds"]:
        if isinstance(bind, str):
            assert bind in tokens
        else:
            assert f"{bind['source']}:{bind['target']}:ro" in tokens


def test_interactive_only_class_refuses_batch_and_takes_interactive(roles):  # type: ignore[no-untyped-def]
    config = roles["execute-interactive"]
    assert evaluate(config, "START", {ATTR: DEFAULT}) is False
    assert evaluate(config, "START", {ATTR: DEFAULT, "InteractiveJob": True}) is True


def test_unhealthy_or_unreported_node_starts_nothing(roles):  # type: ignore[no-untyped-def]
    config = roles["execute-batch"]
    assert evaluate(config, "START", {ATTR: DEFAULT}, NodeIsHealthy=False) is False
    unreported = slot_for(config)
    del unreported["NodeIsHealthy"]
    expr = classad2.ExprTree(config.get("START"))
    assert expr.eval(scope=unreported, target=classad2.ClassAd({ATTR: DEFAULT, "MaxRuntimeHours": 3})) is False
    assert evaluate(config, "START", {ATTR: DEFAULT, "InteractiveJob": True}, HealthyForInteractiveUse=False) is False
    assert evaluate(config, "START", {ATTR: DEFAULT}, HealthyForInteractiveUse=False) is True


def test_draining_node_backfills_only_short_jobs(roles):  # type: ignore[no-untyped-def]
    import time

    from confgen.render.runtime import GRACE_S

    config = roles["execute-batch"]
    cm = roles["central-manager"]
    left = 5 * 3600 + GRACE_S  # the drain is expected to end in 5 hours (plus the grace)
    node = {"RebootNeeded": True, "RebootNeededSince": int(time.time()) - 3600, "SiteRebootDelay": 0, "Draining": True,
            "ExpectedMachineGracefulDrainingCompletion": int(time.time()) + left}

    def job(hours: int) -> dict[str, Any]:  # as the submit transform leaves it: the limit plus the grace
        return {ATTR: DEFAULT, "MaxRuntimeHours": hours, "AllowedExecuteDuration": hours * 3600 + GRACE_S}

    # condor_defrag's drains use the central manager's DEFRAG_DRAINING_START_EXPR, evaluated on the node's
    # slot; a condor_drain by hand, the node's DEFAULT_DRAINING_START_EXPR: the same expression
    start = "DEFAULT_DRAINING_START_EXPR"
    assert cm.get("DEFRAG_DRAINING_START_EXPR") == config.get(start)
    assert evaluate(config, start, job(4), **node) is True
    assert evaluate(config, start, job(6), **node) is False
    assert evaluate(config, start, {ATTR: DEFAULT, "MaxRuntimeHours": 1}, **node) is False  # no AllowedExecuteDuration: unknown


def submit_decision(config, job: dict[str, Any]) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    ad = classad2.ClassAd({"Owner": "alice", **job})
    for line in (config.get("JOB_TRANSFORM_ConfgenDefaults") or "").splitlines():
        _, name, value = line.split(None, 2)
        if name not in ad:
            ad[name] = classad2.ExprTree(value).eval()
    for name in config.get("SUBMIT_REQUIREMENT_NAMES").split():
        result = classad2.ExprTree(config.get(f"SUBMIT_REQUIREMENT_{name}")).eval(scope=classad2.ClassAd(), target=ad)
        assert isinstance(result, bool), (name, result)
        if not result:
            reason = classad2.ExprTree(config.get(f"SUBMIT_REQUIREMENT_{name}_REASON")).eval(scope=classad2.ClassAd(), target=ad)
            return False, reason
    return True, ""


def test_submit_refuses_unknown_os_listing_the_valid_names(roles):  # type: ignore[no-untyped-def]
    accepted, reason = submit_decision(roles["submit"], {ATTR: "CentOS7"})
    assert not accepted
    for os_name in IMAGES:
        assert os_name in reason
    assert submit_decision(roles["submit"], {ATTR: "Debian12"})[0]


def test_submit_refuses_blocked_users_and_long_interactive_jobs(roles):  # type: ignore[no-untyped-def]
    for user in SITE["security"]["blocked_users"]:
        accepted, reason = submit_decision(roles["submit"], {"Owner": user})
        assert not accepted and "blocked_users" in reason
    assert not submit_decision(roles["submit"], {"InteractiveJob": True, "MaxRuntimeHours": 48})[0]
    assert submit_decision(roles["submit"], {"InteractiveJob": True, "MaxRuntimeHours": 24})[0]


def test_kerberos_map_file_is_shipped_in_every_role():  # type: ignore[no-untyped-def]
    realm = SITE["security"]["kerberos"]["realm"]
    for role in ["central-manager", "submit"] + [f"execute-{c}" for c in CLASSES]:
        text = (ROOT / "output" / role / "maps" / "kerberos.map").read_text()
        assert f"{realm} = {SITE['site']['uid_domain']}" in text
