"""Semantic checks: what the schema cannot say (cross references, values that would break a config line)."""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Iterator

from confgen.diagnostics import Diagnostic
from confgen.hub import description as notebook
from confgen.hub import options as hub_options
from confgen.site import extra_config
from confgen.site.class_policy import class_policy_problems
from confgen.site.health import health_problems
from confgen.site.hosts import problems as host_kind_problems
from confgen.site.load import PathKey
from confgen.site.model import Bind, Site
from confgen.site.newest_images import newest_problems
from confgen.site.pool_hosts import pool_hosts_problems
from confgen.site.reboots import reboot_problems
from confgen.site.runtime import runtime_attribute, runtime_problems
from confgen.site.version import version_problems

OS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
DURATION = re.compile(r"([1-9][0-9]{0,6})([smh]?)")  # fullmatch: '$' would match before a final newline
#: Longest periods of the startd cron jobs (HTCondor keeps a period in 32-bit unsigned seconds, so
#: 9999999h became another period): START trusts a health report until the next one, and a due reboot
#: waits for the next run of the check to be noticed.
MAX_PERIOD_S = {"health": 24 * 3600, "reboots": 7 * 24 * 3600}

#: Characters that end, split or re-interpret a config line, a ClassAd string or a bind list.
_PATH_FORBIDDEN = {'"': "a double quote", "'": "a single quote", ",": "a comma", "$": "a '$'", "#": "a '#'", "\\": "a backslash"}

#: Job attributes that HTCondor itself defines; a site default for them would change what a job is.
RESERVED_JOB_ATTRIBUTES = frozenset(
    name.lower()
    for name in [
        "Owner", "User", "Requirements", "Rank", "Cmd", "Args", "Arguments", "Environment", "Env", "Iwd",
        "JobUniverse", "InteractiveJob", "RequestCpus", "RequestMemory", "RequestDisk", "RequestGpus",
        "JobStatus", "ClusterId", "ProcId", "QDate", "ContainerImage", "SingularityImage", "WantSIF",
        "WantSandboxImage", "WantDockerImage", "AcctGroup", "AccountingGroup", "NiceUser", "JobPrio",
        "MaxJobRetirementTime", "AllowedExecuteDuration", "AllowedJobDuration", "JobCurrentStartExecutingDate",
    ]
)


def check_semantics(site: Site) -> list[Diagnostic]:
    return sorted(set(_all(site)))


def _all(site: Site) -> Iterator[Diagnostic]:
    yield from version_problems(site)
    yield from _containers(site)
    yield from _node_classes(site)
    yield from _pool(site)
    yield from _security(site)
    yield from _job_attributes(site)
    yield from _schedules(site)
    yield from runtime_problems(site)
    yield from reboot_problems(site)
    yield from health_problems(site)
    yield from _checks(site)
    yield from _jupyterhub(site)
    yield from extra_config.check(site)
    from confgen.site.user_images import user_images_problems  # here: that module builds on this one
    yield from user_images_problems(site)
    yield from class_policy_problems(site)
    yield from host_kind_problems(site)
    yield from newest_problems(site)


def path_problem(value: str, *, colon: bool = False) -> str | None:
    """Why `value` cannot be a path in a config line, a ClassAd string or a bind list (None if it can)."""
    if not value.startswith("/"):
        return f"{value!r} is not an absolute path; write it starting with '/'"
    for ch in value:
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            return f"{value!r} contains whitespace or a control character; paths must be one word"
        if ch in _PATH_FORBIDDEN:
            return f"{value!r} contains {_PATH_FORBIDDEN[ch]}, which would break or inject into the configuration"
        if colon and ch == ":":
            return f"{value!r} contains a colon, which separates source, target and options in a bind"
    if dots := [segment for segment in value.split("/") if segment in (".", "..")]:
        return f"{value!r} has a {dots[0]!r} segment; write the path without . and .. segments: {posixpath.normpath(value)}"
    return None


def _containers(site: Site) -> Iterator[Diagnostic]:
    base = ("containers",)
    seen: dict[str, str] = {}
    for name, image in site.images.items():
        where = base + ("images", name)
        if not OS_NAME.fullmatch(name):  # match: "$" would match before a final newline
            yield site.diag(where, f"OS name {name!r} must match ^[A-Za-z][A-Za-z0-9_]*$ (a letter, then letters, digits, '_')", key=True)
        elif name.lower() in seen:
            yield site.diag(where, f"OS name {name!r} differs from {seen[name.lower()]!r} only in case; HTCondor compares these names without case", key=True)
        else:
            seen[name.lower()] = name
        problem = None if name in site.newest else path_problem(image) if isinstance(image, str) else "expected a path"
        if problem:
            yield site.diag(where, f"image {problem}")
    if site.default_os not in site.images:
        yield site.diag(base + ("default",), f"{site.default_os!r} is not one of the images ({', '.join(site.images)})")
    seen_targets: dict[str, str] = {}
    for i, bind in enumerate(site.binds):
        bind_at: PathKey = (*base, "binds", i)
        for field, value in (("source", bind.source), ("target", bind.target)):
            if value is None:
                continue
            problem = path_problem(value, colon=True)
            if problem:
                as_mapping = isinstance(site.doc.data["containers"]["binds"][i], dict)
                yield site.diag(bind_at + ((field,) if as_mapping else ()), f"bind {field} {problem}")
        target = (bind.target or bind.source).rstrip("/") or "/"
        if target in seen_targets:
            as_mapping = isinstance(site.doc.data["containers"]["binds"][i], dict)
            yield site.diag(bind_at + (("target" if bind.target else "source",) if as_mapping else ()),
                            f"{bind.target or bind.source!r} is the bind target {seen_targets[target]!r} again (a trailing '/' names the "
                            "same directory); a path is mounted once in the container: remove one of them")
        seen_targets.setdefault(target, bind.target or bind.source)
        if (problem := target_dir_problem(site, bind)) is not None:
            as_mapping = isinstance(site.doc.data["containers"]["binds"][i], dict)
            yield site.diag(bind_at + (("target" if bind.target else "source",) if as_mapping else ()), problem)
    for field, value in (("runtime", site.runtime), ("target_dir", site.target_dir)):
        if value is not None and (problem := path_problem(value)):
            yield site.diag(base + (field,), problem)
    if site.job_attribute.lower() in RESERVED_JOB_ATTRIBUTES:
        yield site.diag(base + ("job_attribute",), f"{site.job_attribute!r} is an attribute HTCondor defines itself; pick a site name such as ContainerOS")


def target_dir_problem(site: Site, bind: Bind) -> str | None:
    """A bind whose target is containers.target_dir or below it: the starter mounts each job's own
    scratch directory there, and Apptainer fails to create the bind's mount point inside it (seen with
    Apptainer 1.4.5: 'failed to create .../dir_NNN/<name> dir'), so no job starts on the node."""
    if not site.target_dir or not isinstance(site.target_dir, str):
        return None
    top = site.target_dir.rstrip("/") or "/"
    target = (bind.target or bind.source).rstrip("/") or "/"
    if target == top or target.startswith(top.rstrip("/") + "/"):
        return (f"bind target {target!r} is inside containers.target_dir {top!r}, where the starter mounts each job's scratch "
                f"directory; Apptainer cannot create it there and no job would start: bind it to a path outside {top!r}")
    return None


def _node_classes(site: Site) -> Iterator[Diagnostic]:
    for cls in site.node_classes:
        for i, os_name in enumerate(site.doc.data["node_classes"][cls.name].get("images", [])):
            if os_name not in site.images:
                yield site.diag(("node_classes", cls.name, "images", i), f"{os_name!r} is not one of the images defined in containers.images ({', '.join(site.images)})")


def _pool(site: Site) -> Iterator[Diagnostic]:
    cms = site.central_managers
    if len(cms) > 2:
        yield site.diag(("site", "central_managers", 2), "at most two central managers are supported (two give high availability)")
    for i, host in enumerate(cms):
        if host.lower() in (h.lower() for h in cms[:i]):
            yield site.diag(("site", "central_managers", i), f"{host!r} is listed twice")
    if problem := path_problem(site.config_dir):
        yield site.diag(("site", "config_dir"), problem)


def _security(site: Site) -> Iterator[Diagnostic]:
    base = ("security",)
    krb = site.kerberos
    if "KERBEROS" in site.methods and krb is None:
        if "methods" in (site.doc.data.get("security") or {}):
            yield site.diag(base + ("methods",), "KERBEROS is listed but security.kerberos (realm, map, server_keytab) is missing")
        else:  # the admin never wrote KERBEROS: say where it comes from
            yield site.diag(base + ("methods",), f"not written, so the default [{', '.join(site.methods)}] applies, "
                            "whose KERBEROS needs security.kerberos (realm, map, server_keytab); for a pool without Kerberos write "
                            "`security: {methods: [FS, IDTOKENS]}`, else add security.kerberos")
    if krb is not None:
        if krb.map and krb.realm not in krb.map:
            yield site.diag(base + ("kerberos", "map"), f"the pool's realm {krb.realm!r} must be in the map: with a map file, unlisted realms cannot authenticate")
        if krb.server_keytab is not None and (problem := path_problem(krb.server_keytab)):
            yield site.diag(base + ("kerberos", "server_keytab"), problem)
    for i, user in enumerate(site.blocked_users):
        if user in site.queue_super_users:
            yield site.diag(base + ("blocked_users", i), f"{user!r} is also a queue super user")
    yield from pool_hosts_problems(site)


def _job_attributes(site: Site) -> Iterator[Diagnostic]:
    for attr in site.job_attributes:
        where = ("job_attributes", attr.name)
        if attr.name.lower() in RESERVED_JOB_ATTRIBUTES:
            yield site.diag(where, f"{attr.name!r} is an attribute HTCondor defines itself; a site attribute needs its own name", key=True)
        if attr.name.lower() == site.job_attribute.lower():
            yield site.diag(where, f"{attr.name!r} is the container OS attribute (containers.job_attribute); its values come from containers.images", key=True)
        if attr.type == "string":
            for i, value in enumerate(attr.values):
                if _has_control(value):
                    yield site.diag(where + ("values", i), f"{value!r} contains a control character")
            if attr.default not in attr.values:
                yield site.diag(where + ("default",), f"default {attr.default!r} is not one of the values ({', '.join(attr.values)})")
            continue
        assert attr.min is not None and attr.max is not None
        if attr.max < attr.min:
            yield site.diag(where + ("max",), f"max {attr.max} is smaller than min {attr.min}")
            continue
        if not attr.min <= int(attr.default) <= attr.max:
            yield site.diag(where + ("default",), f"default {attr.default} is outside min..max ({attr.min}..{attr.max})")
        if attr.interactive_max is not None and not attr.min <= attr.interactive_max <= attr.max:
            yield site.diag(where + ("interactive_max",), f"interactive_max {attr.interactive_max} is outside min..max ({attr.min}..{attr.max})")
        elif attr.interactive_max is not None and attr.min <= int(attr.default) <= attr.max and attr.interactive_max < int(attr.default):
            yield site.diag(where + ("interactive_max",),
                            f"interactive_max {attr.interactive_max} is below the default {attr.default}: every interactive job that does not "
                            f"set {attr.name} gets {attr.default} and is refused at submit; write interactive_max {attr.default} or more, "
                            f"or a default of at most {attr.interactive_max}")


def duration_seconds(text: str) -> int | None:
    m = DURATION.fullmatch(text)
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def _schedules(site: Site) -> Iterator[Diagnostic]:
    if site.health_script is not None:
        if problem := path_problem(site.health_script):
            yield site.diag(("health", "script"), problem)
        yield from _period(site, "health", site.health_period)
    r = site.reboots
    if r is not None:
        if problem := path_problem(r["check"]):
            yield site.diag(("reboots", "check"), problem)
        yield from _period(site, "reboots", r["period"])


def _period(site: Site, section: str, text: str) -> Iterator[Diagnostic]:
    seconds, most = duration_seconds(text), MAX_PERIOD_S[section]
    if seconds is None:
        yield site.diag((section, "period"), f"{text!r} is not a duration; write for example 90s, 5m or 1h")
    elif seconds > most:
        yield site.diag((section, "period"), f"{text} ({seconds} s) is longer than the longest {section} period, {most // 3600}h; write at most {most // 3600}h")


def _checks(site: Site) -> Iterator[Diagnostic]:
    for check in site.checks:
        where = ("checks", check.index)
        if _has_control(check.name):
            yield site.diag(where + ("name",), "the name contains a control character")
        for part in ("job", "slot"):
            for attr, value in getattr(check, part).items():
                if isinstance(value, str) and "\x00" in value:
                    yield site.diag(where + (part, attr), f"{value!r} contains a NUL character, where a ClassAd string ends; remove it")
        if check.node is not None and site.node_class(check.node) is None:
            yield site.diag(where + ("node",), f"{check.node!r} is not a node class ({', '.join(c.name for c in site.node_classes)})")
        expect = check.expect
        if "image" in expect and expect["image"] not in site.images:
            yield site.diag(where + ("expect", "image"), f"{expect['image']!r} is not one of the images ({', '.join(site.images)})")
        if "reason" in expect and expect.get("submit") != "rejected":
            yield site.diag(where + ("expect", "reason"), "reason is checked only together with submit: rejected")
        if "submit" in expect and check.node is not None:
            yield site.diag(where + ("node",), "a submit check runs on the submit role; remove node")


def _jupyterhub(site: Site) -> Iterator[Diagnostic]:
    hub = site.jupyterhub
    if hub is None:
        return
    base = ("jupyterhub",)
    if "FS" not in site.methods:
        yield site.diag(("security", "methods"), "jupyterhub needs FS in security.methods: the spawner submits as each user on the hub host, "
                        "who has no Kerberos ticket there, so the local schedd must accept FS authentication")
    classes = site.notebook_classes()
    if not classes:
        yield site.diag(base, "no node class takes interactive jobs (interactive: never everywhere), so no notebook could ever start")
        return
    for field, limit, unit in (("max_cpus", hub.max_cpus, "cpus"), ("max_memory_gb", hub.max_memory_gb, "memory_gb")):
        sizes = [(getattr(c, unit), c.name) for c in classes]
        if all(size is not None for size, _ in sizes):
            largest, name = max((size, name) for size, name in sizes if size is not None)
            if limit > largest:
                yield site.diag(base + (field,), f"{limit} is more than any node class that takes interactive jobs has "
                                f"(largest: {name} with {unit} {largest}); a notebook asking for it would stay idle forever; "
                                f"write at most {largest}")
    attr, runtime = runtime_attribute(site), site.runtime_limit
    if attr is not None and runtime is not None:
        assert attr.min is not None and attr.max is not None
        per_hour = 3600 // runtime.seconds
        cap = attr.interactive_max if attr.interactive_max is not None else attr.max
        if hub.max_runtime_hours * per_hour > cap:
            which = "interactive_max" if attr.interactive_max is not None else "max"
            yield site.diag(base + ("max_runtime_hours",), f"{hub.max_runtime_hours} h is more than interactive jobs may ask for "
                            f"({attr.name} {which} is {cap} {runtime.unit}); the pool would refuse every notebook asking for it; "
                            f"write at most {cap // per_hour}")
        elif hub.max_runtime_hours * per_hour < attr.min:
            yield site.diag(base + ("max_runtime_hours",), f"{hub.max_runtime_hours} h is less than {attr.name} min ({attr.min} {runtime.unit}); "
                            f"write at least {-(-attr.min // per_hour)}")
    if hub.max_gpus > 0 and not site.notebook_classes(gpus=True):
        yield site.diag(base + ("max_gpus",), f"max_gpus is {hub.max_gpus} but no node class with gpus: true takes interactive jobs; "
                        "set max_gpus: 0 or add such a class")
    for a in site.job_attributes:
        if a.name.lower() in {name.lower() for name in hub_options.FIXED}:
            yield site.diag(("job_attributes", a.name), f"{a.name!r} is also the name of a JupyterHub spawner option; rename the attribute", key=True)
    for name, where in [(a.name, ("job_attributes", a.name)) for a in site.job_attributes] + [(site.job_attribute, ("containers", "job_attribute"))]:
        if name.lower() in (notebook.MARKER.lower(), notebook.ENVIRONMENT_ATTRIBUTE.lower()):
            yield site.diag(where, f"{name!r} is an attribute the JupyterHub spawner sets on notebook jobs; pick another name",
                            key=where[0] == "job_attributes")
    if problem := path_problem(hub.config_dir):
        yield site.diag(base + ("config_dir",), problem)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)
