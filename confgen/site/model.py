"""The Site model: site.yaml after schema validation, with defaults filled in. Immutable."""

from __future__ import annotations

import dataclasses
from typing import Any

from confgen.diagnostics import Diagnostic
from confgen.site.extra_config import ExtraKnob
from confgen.site.extra_config import build as build_extra_config
from confgen.site.hosts import HostKind
from confgen.site.hosts import build as build_hosts
from confgen.site.load import Document, PathKey

Scalar = str | int | float | bool


@dataclasses.dataclass(frozen=True)
class Bind:
    """One of `containers.binds` (or a class's `binds`): a host path bound into every job's container."""

    source: str
    target: str | None = None
    read_only: bool = False

    def spec(self) -> str:
        """Apptainer's `source[:target[:ro]]`."""
        if self.target is None and not self.read_only:
            return self.source
        return f"{self.source}:{self.target or self.source}" + (":ro" if self.read_only else "")


@dataclasses.dataclass(frozen=True)
class NewestImage:
    """`containers.images.<OS>: {path, newest}`: the node uses the newest build under `path` whose name
    matches the glob `glob` (confgen/render/newest_images.py)."""

    path: str
    glob: str


@dataclasses.dataclass(frozen=True)
class JobAttribute:
    """One of `job_attributes`: a job attribute the schedd defaults and checks (a string from `values`, or an
    integer from `min` to `max`)."""

    name: str
    type: str
    default: str | int
    values: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    interactive_max: int | None = None
    #: hours | minutes | seconds: this attribute is the job's runtime limit, in this unit
    runtime: str | None = None


@dataclasses.dataclass(frozen=True)
class RuntimeLimit:
    """The job's runtime limit: an integer job attribute and its unit (job_attributes.<name>.runtime,
    or one of the older `runtime_attribute` keys, which mean hours)."""

    attribute: str
    unit: str
    #: where the site says so (for diagnostics)
    declared_at: tuple[str | int, ...]

    @property
    def seconds(self) -> int:
        """Seconds in one unit of the attribute."""
        return UNIT_SECONDS[self.unit]


UNIT_SECONDS = {"hours": 3600, "minutes": 60, "seconds": 1}


@dataclasses.dataclass(frozen=True)
class HealthNames:
    """The slot attributes the health script publishes."""

    healthy: str = "NodeIsHealthy"
    #: None: interactive jobs need only `healthy`
    interactive: str | None = "HealthyForInteractiveUse"


@dataclasses.dataclass(frozen=True)
class NodeClass:
    """One of `node_classes`: machines that share a role (execute-<name>), what they offer and their policy."""

    name: str
    interactive: str
    gpus: bool
    images: tuple[str, ...]
    cpus: int | None = None
    memory_gb: int | None = None
    #: Per-class policy (issue 12): GPU jobs only, binds after the site's, an extra START clause,
    #: attributes published in the slot ad (name, value), sorted by name.
    only_gpu_jobs: bool = False
    binds: tuple[Bind, ...] = ()
    start: str | None = None
    attributes: tuple[tuple[str, str | int | bool], ...] = ()
    #: How many machines the class has (optional; a share in reboots.max_draining needs it).
    nodes: int | None = None

    @property
    def runs_interactive(self) -> bool:
        return self.interactive != "never"

    @property
    def role(self) -> str:
        return f"execute-{self.name}"


@dataclasses.dataclass(frozen=True)
class JupyterHub:
    """The `jupyterhub` section: limits of notebook jobs, and where the hub host keeps the options."""

    max_cpus: int
    max_memory_gb: int
    max_runtime_hours: int
    max_gpus: int
    environments: tuple[str, ...]
    #: the older key's value (None: not given); the attribute in use is Site.runtime_limit
    runtime_attribute: str | None
    config_dir: str


@dataclasses.dataclass(frozen=True)
class UserImages:
    """`containers.user_images`: jobs may name an image path (in `attribute`, or with HTCondor's
    container_image) under one of the `allowed` prefixes, as written in site.yaml."""

    attribute: str
    allowed: tuple[str, ...]

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The allowed prefixes as directories: each ends in exactly one '/', so matching is on path boundaries."""
        return tuple(p.rstrip("/") + "/" for p in self.allowed)


@dataclasses.dataclass(frozen=True)
class Check:
    """One of the site's own `checks`: a job (and slot attributes) and what the pool must decide for it."""

    index: int
    name: str
    job: dict[str, Scalar]
    node: str | None
    slot: dict[str, Scalar]
    expect: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Kerberos:
    """`security.kerberos`: the realm, the principal -> identity map, and the daemons' keytab."""

    realm: str
    map: dict[str, str]
    server_keytab: str | None


@dataclasses.dataclass(frozen=True)
class Site:
    """Everything confgen renders from. `doc` keeps the positions for later diagnostics."""

    doc: Document
    name: str
    htcondor_version: tuple[int, int]
    uid_domain: str
    central_managers: tuple[str, ...]
    config_dir: str
    shared_port: bool
    port: int
    ccb: bool
    private_network_name: str | None
    methods: tuple[str, ...]
    kerberos: Kerberos | None
    encryption: str
    integrity: str
    queue_super_users: tuple[str, ...]
    blocked_users: tuple[str, ...]
    #: Hosts that run pool daemons (ALLOW host patterns); the daemon identity is accepted only from them.
    pool_hosts: tuple[str, ...]
    runtime: str
    all_jobs: bool
    job_attribute: str
    default_os: str
    #: OS -> image path; for an image resolved on the node (`newest`), the sample `confgen check`
    #: assumes: path/glob as written
    images: dict[str, str]
    binds: tuple[Bind, ...]
    target_dir: str | None
    job_attributes: tuple[JobAttribute, ...]
    threads_env: tuple[str, ...]
    health_script: str | None
    health_period: str
    reboots: dict[str, Any] | None
    node_classes: tuple[NodeClass, ...]
    checks: tuple[Check, ...]
    jupyterhub: JupyterHub | None = None
    #: None: no job attribute is the runtime limit
    runtime_limit: RuntimeLimit | None = None
    health_names: HealthNames = HealthNames()
    #: extra_config: knobs confgen does not model, per role selector (confgen/site/extra_config.py)
    extra_config: tuple[ExtraKnob, ...] = ()
    user_images: UserImages | None = None
    #: The admin switch of every execute role (admin_switch.attribute): START needs it =!= False.
    switch_attribute: str = "SiteStartJobs"
    #: PERSISTENT_CONFIG_DIR of the startd, where the switch's setting is kept (admin_switch.persistent_dir).
    switch_dir: str = "/etc/condor/persistent"
    #: containers.login_environment: batch jobs source /etc/profile in their image (confgen/render/images.py).
    login_environment: bool = False
    #: hosts: host kinds that combine several roles (confgen/site/hosts.py)
    hosts: tuple[HostKind, ...] = ()
    #: OS -> the newest build under a path, resolved on each execute node (containers.images.<OS>.newest)
    newest: dict[str, NewestImage] = dataclasses.field(default_factory=dict)

    def roles(self) -> list[str]:
        hub = ["jupyterhub"] if self.jupyterhub is not None else []
        return ["central-manager", "submit"] + [c.role for c in self.node_classes] + hub

    def node_class(self, name: str) -> NodeClass | None:
        return next((c for c in self.node_classes if c.name == name), None)

    def offered_anywhere(self) -> list[str]:
        """OS names some node class offers, in the order of `images`."""
        offered = {os for c in self.node_classes for os in c.images}
        return [os for os in self.images if os in offered]

    def notebook_classes(self, *, gpus: bool = False) -> list[NodeClass]:
        """The classes a JupyterHub notebook (an interactive job) can run on; with gpus, those with GPUs."""
        return [c for c in self.node_classes if c.runs_interactive and (c.gpus or not gpus)]

    def notebook_os(self, *, gpus: bool = False) -> list[str]:
        """OS names a notebook can get, in the order of `images`."""
        offered = {os for c in self.notebook_classes(gpus=gpus) for os in c.images}
        return [os for os in self.images if os in offered]

    def diag(self, path: PathKey, message: str, *, code: str = "semantic", key: bool = False, severity: str = "error") -> Diagnostic:
        return self.doc.diag(path, message, code=code, key=key, severity=severity)


def build_site(doc: Document) -> Site:
    """Site from a schema-valid document (semantic checks come after, on the Site)."""
    d: dict[str, Any] = doc.data
    site, net = d["site"], d.get("network", {})
    sec, cont = d.get("security", {}), d["containers"]
    major, minor = (int(p) for p in str(site.get("htcondor_version", "24.0")).split("."))
    krb = sec.get("kerberos")
    # Mapping keys are sorted: the output must not depend on the order of keys in site.yaml.
    raw_images = dict(sorted(cont["images"].items()))
    newest = {k: NewestImage(v["path"].rstrip("/") or "/", v["newest"]) for k, v in raw_images.items() if isinstance(v, dict)}
    images = {k: f"{newest[k].path}/{newest[k].glob}" if k in newest else v for k, v in raw_images.items()}
    return Site(
        doc=doc,
        name=site["name"],
        htcondor_version=(major, minor),
        uid_domain=site["uid_domain"],
        central_managers=tuple(site["central_managers"]),
        config_dir=site.get("config_dir", "/etc/condor/config.d").rstrip("/") or "/",
        shared_port=net.get("shared_port", {}).get("enabled", True),
        port=net.get("shared_port", {}).get("port", 9618),
        ccb=net.get("ccb", False),
        private_network_name=net.get("private_network_name"),
        methods=tuple(sec.get("methods", ["FS", "IDTOKENS", "KERBEROS"])),
        kerberos=Kerberos(krb["realm"], dict(krb.get("map", {})), krb.get("server_keytab")) if krb else None,
        encryption=sec.get("encryption", "required"),
        integrity=sec.get("integrity", "required"),
        queue_super_users=tuple(sec.get("queue_super_users", ["root", "condor"])),
        blocked_users=tuple(sec.get("blocked_users", [])),
        pool_hosts=_pool_hosts(sec.get("pool_hosts", [f"*.{site['uid_domain']}"]), site["central_managers"]),
        runtime=cont.get("runtime", "/usr/bin/apptainer"),
        all_jobs=cont.get("all_jobs", True),
        job_attribute=cont.get("job_attribute", "ContainerOS"),
        default_os=cont["default"],
        images=images,
        binds=tuple(_bind(b) for b in cont.get("binds", [])),
        target_dir=cont.get("target_dir"),
        job_attributes=tuple(_job_attribute(k, v) for k, v in sorted(d.get("job_attributes", {}).items())),
        threads_env=tuple(d.get("threads_env", [])),
        health_script=d.get("health", {}).get("script"),
        health_period=d.get("health", {}).get("period", "5m"),
        reboots=_reboots(d.get("reboots")),
        node_classes=tuple(_node_class(k, v, images) for k, v in sorted(d["node_classes"].items())),
        checks=tuple(_check(i, c) for i, c in enumerate(d.get("checks", []))),
        jupyterhub=_jupyterhub(d.get("jupyterhub")),
        runtime_limit=runtime_limit(d),
        health_names=_health_names(d.get("health", {}).get("publishes")),
        extra_config=build_extra_config(d.get("extra_config")),
        user_images=_user_images(cont.get("user_images")),
        switch_attribute=d.get("admin_switch", {}).get("attribute", "SiteStartJobs"),
        switch_dir=d.get("admin_switch", {}).get("persistent_dir", "/etc/condor/persistent").rstrip("/") or "/",
        hosts=build_hosts(d.get("hosts")),
        login_environment=cont.get("login_environment", False),
        newest=newest,
    )


def _pool_hosts(listed: list[str], central_managers: list[str]) -> tuple[str, ...]:
    """The listed pool hosts, then each central manager no listed name pattern covers: a central
    manager's daemons (HAD, replication, its master) are always the pool's own."""
    def covered(host: str) -> bool:
        return any(p.lower() == host.lower() or (p.startswith("*.") and host.lower().endswith(p[1:].lower())) for p in listed)
    return tuple(listed) + tuple(cm for cm in central_managers if not covered(cm))


def _bind(b: str | dict[str, Any]) -> Bind:
    if isinstance(b, str):
        return Bind(b)
    return Bind(b["source"], b.get("target"), b.get("read_only", False))


def _job_attribute(name: str, v: dict[str, Any]) -> JobAttribute:
    return JobAttribute(name, v["type"], v["default"], tuple(v.get("values", ())), v.get("min"), v.get("max"),
                        v.get("interactive_max"), v.get("runtime"))


def runtime_limit(d: dict[str, Any]) -> RuntimeLimit | None:
    """The runtime attribute: the first one marked `runtime:` (by name), else the one an older
    `runtime_attribute` key names (hours). Conflicts are semantic errors (site/runtime.py)."""
    marked = sorted((name, v["runtime"]) for name, v in d.get("job_attributes", {}).items() if "runtime" in v)
    if marked:
        name, unit = marked[0]
        return RuntimeLimit(name, unit, ("job_attributes", name, "runtime"))
    for section in ("reboots", "jupyterhub"):
        named = (d.get(section) or {}).get("runtime_attribute")
        if named is not None:
            return RuntimeLimit(named, "hours", (section, "runtime_attribute"))
    return None


def _health_names(v: dict[str, Any] | None) -> HealthNames:
    if v is None:
        return HealthNames()
    return HealthNames(v["healthy"], v.get("interactive"))


def _reboots(r: dict[str, Any] | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"period": "1h", "spread_days": 7, "max_uptime_days": None, "runtime_attribute": None, "drain_hours": None, "down_hours": None, **r}


def _node_class(name: str, v: dict[str, Any], images: dict[str, str]) -> NodeClass:
    return NodeClass(name, v.get("interactive", "allowed"), v.get("gpus", False), tuple(sorted(v.get("images", list(images)))),
                     v.get("cpus"), v.get("memory_gb"), v.get("only_gpu_jobs", False), tuple(_bind(b) for b in v.get("binds", [])),
                     v.get("start"), tuple(sorted(v.get("attributes", {}).items())), v.get("nodes"))


def _jupyterhub(v: dict[str, Any] | None) -> JupyterHub | None:
    if v is None:
        return None
    return JupyterHub(v["max_cpus"], v["max_memory_gb"], v["max_runtime_hours"], v.get("max_gpus", 0),
                      tuple(v.get("environments", ())), v.get("runtime_attribute"),
                      v.get("config_dir", "/etc/jupyterhub/confgen").rstrip("/") or "/")


def _user_images(v: dict[str, Any] | None) -> UserImages | None:
    if v is None:
        return None
    return UserImages(v.get("attribute", "SingularityImage"), tuple(v["allowed"]))


def _check(i: int, c: dict[str, Any]) -> Check:
    return Check(i, c["name"], dict(c["job"]), c.get("node"), dict(c.get("slot", {})), dict(c["expect"]))
