"""Rendering: Site -> the fragments of every role (`central-manager`, `submit`, `execute-<class>`, and
`jupyterhub` when the site has that section), and `images`, the files of the image recipes."""

from __future__ import annotations

import dataclasses
from typing import Any

from confgen.render import class_policy as cp
from confgen.render import expressions as ex
from confgen.render import extra, runtime
from confgen.render import images as img
from confgen.render import jupyterhub as hub
from confgen.render import newest_images as newest
from confgen.render import reboots as rb
from confgen.render import user_images as ui
from confgen.render.authorization import DISABLED_CONFIG, authorization
from confgen.render.env import make_env
from confgen.render.provenance import generated_line
from confgen.site.model import NodeClass, Site
from confgen.site.runtime import runtime_attribute

SOURCE = "site.yaml"
KERBEROS_MAP = "maps/kerberos.map"


@dataclasses.dataclass(frozen=True, order=True)
class Fragment:
    """One file of a role directory; `name` may contain one '/' for files beside the config (maps)."""

    role: str
    name: str
    text: str

    @property
    def is_config(self) -> bool:
        """An HTCondor config fragment (not a map beside it, nor a file of the jupyterhub role)."""
        return "/" not in self.name and self.name.endswith(".conf")


def render_site(site: Site) -> list[Fragment]:
    """Every file of every role, sorted; the same site gives the same bytes."""
    out: list[Fragment] = []
    out += _central_manager(site)
    out += _submit(site)
    for cls in site.node_classes:
        out += _execute(site, cls)
    if site.jupyterhub is not None:
        out += [Fragment(hub.ROLE, hub.OPTIONS_FILE, hub.options_text(site)),
                Fragment(hub.ROLE, hub.SNIPPET_FILE, hub.snippet_text(site, SOURCE))]
    out += [Fragment(img.ROLE, name, text) for name, text in img.files(site, SOURCE)]
    out += [Fragment(role, name, _tidy(text)) for role, name, text in extra.files(site, SOURCE)]
    out += _host_kinds(site, out)
    return sorted(out)


def _host_kinds(site: Site, out: list[Fragment]) -> list[Fragment]:
    """output/<kind>/ of every host kind (confgen/render/hosts.py), from the members' own files."""
    from confgen.render import hosts  # here: that module builds on this one

    members: dict[str, dict[str, str]] = {}
    for frag in out:
        members.setdefault(frag.role, {})[frag.name] = frag.text
    return [Fragment(kind.name, name, _tidy(text)) for kind in site.hosts for name, text in hosts.fragments(site, kind, members, SOURCE)]


def htcondor_roles(fragments: list[Fragment]) -> list[Fragment]:
    """The fragments HTCondor reads: every role but jupyterhub and images (files for the hub host and
    for the image recipes, never HTCondor configuration)."""
    return [f for f in fragments if f.role not in (hub.ROLE, img.ROLE)]


def daemons(site: Site, role: str) -> list[str]:
    if role == "central-manager":
        return ["MASTER", "COLLECTOR", "NEGOTIATOR"] + (["HAD", "REPLICATION"] if len(site.central_managers) > 1 else [])
    if role == "submit":
        return ["MASTER", "SCHEDD"]
    return ["MASTER", "STARTD"]


def _render(site: Site, role: str, name: str, topic: str, **context: Any) -> Fragment:
    template = make_env().get_template(f"{name}.j2")
    text = template.render(source=SOURCE, role=role, topic=topic, generated=generated_line(site, SOURCE, f"the role {role}"), **context)
    return Fragment(role, name, _tidy(text))


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line == "" and (not out or out[-1] == ""):
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def _common(site: Site, role: str) -> list[Fragment]:
    is_execute = role.startswith("execute-")
    frags = [
        _render(site, role, "10-pool.conf", "The pool: central managers, UID domain, the daemons of this role.",
                central_managers=site.central_managers, port=site.port, uid_domain=site.uid_domain, daemons=daemons(site, role)),
        _render(site, role, "20-network.conf", "Networking: shared port, connection brokering, private network.",
                shared_port=site.shared_port, port=site.port, private_network_name=site.private_network_name,
                ccb=site.ccb and is_execute, broker=site.ccb and role == "central-manager"),
        _render(site, role, "30-security.conf", "Security: authentication, encryption, integrity, authorization.",
                methods=site.methods, encryption=site.encryption.upper(), integrity=site.integrity.upper(),
                kerberos=site.kerberos, kerberos_map_path=f"{site.config_dir}/{KERBEROS_MAP}", uid_domain=site.uid_domain,
                allow=authorization(site, role), disabled=DISABLED_CONFIG, pool_hosts=site.pool_hosts,
                queue_super_users=site.queue_super_users if role == "submit" else ()),
    ]
    if site.kerberos is not None:
        frags.append(Fragment(role, KERBEROS_MAP, kerberos_map(site)))
    return frags


def kerberos_map(site: Site) -> str:
    """KERBEROS_MAP_FILE: `REALM = uid.domain` per accepted realm."""
    assert site.kerberos is not None
    mapping = site.kerberos.map or {site.kerberos.realm: site.uid_domain}
    return "".join(f"{realm} = {domain}\n" for realm, domain in sorted(mapping.items()))


def _central_manager(site: Site) -> list[Fragment]:
    role = "central-manager"
    return _common(site, role) + [
        _render(site, role, "40-central-manager.conf", "Collector and negotiator" + (", highly available." if len(site.central_managers) > 1 else "."),
                pool_name=site.name, ha=len(site.central_managers) > 1, port=site.port, shared_port=site.shared_port,
                central_managers=site.central_managers, defrags=rb.defrag_daemons(site), interval=rb.DEFRAG_INTERVAL_S,
                per_hour=rb.drains_per_hour(), cancel=rb.Defrag.cancel(), draining_start=rb.draining_start(),
                absent=rb.absent_requirements(), down_hours=rb.down_seconds(site) // 3600 if site.reboots else 0),
    ]


def _submit(site: Site) -> list[Fragment]:
    role = "submit"
    requirements: list[tuple[str, str, str]] = []
    if site.blocked_users:
        requirements.append(("ConfgenBlockedUsers", *ex.requirement_blocked(site)))
    requirements.append((f"Confgen{site.job_attribute}", *ex.requirement_os(site)))
    requirements += ui.requirements(site)
    for attr in site.job_attributes:
        requirements.append((f"Confgen{attr.name}", *ex.requirement_attribute(attr)))
        if attr.type == "integer" and attr.interactive_max is not None:
            requirements.append((f"Confgen{attr.name}Interactive", *ex.requirement_interactive_max(attr)))
    frags = _common(site, role) + [
        _render(site, role, "50-submit-policy.conf", "Submit-time policy: site defaults, then requirements with reasons.",
                defaults=[ex.transform_default(a) for a in site.job_attributes], requirements=requirements,
                container_shared_fs=site.user_images.prefixes if site.user_images else ()),
    ]
    runtime_attr, limit = runtime_attribute(site), site.runtime_limit
    if runtime_attr is not None and limit is not None:
        frags.append(_render(site, role, "55-runtime-limit.conf", f"The runtime limit: {limit.attribute} ({limit.unit}), enforced by HTCondor.",
                             attribute=limit.attribute, unit=limit.unit, grace=runtime.GRACE_S,
                             transform=runtime.TRANSFORM, transform_lines=runtime.transform_lines(limit),
                             hold=runtime.HOLD, hold_expr=runtime.hold_expression(limit),
                             hold_reason=runtime.hold_reason(limit, runtime_attr), hold_subcode=runtime.HOLD_SUBCODE))
    if site.jupyterhub is not None:
        frags.append(_render(site, role, "60-jupyterhub.conf", "What a JupyterHub host needs: it is an access point of this pool.",
                             max_runtime_hours=site.jupyterhub.max_runtime_hours,
                             runtime_attribute=limit.attribute if runtime_attr is not None and limit is not None else "AllowedExecuteDuration",
                             config_dir=site.jupyterhub.config_dir))
    return frags


def _execute(site: Site, cls: NodeClass) -> list[Fragment]:
    role = cls.role
    frags = _common(site, role)
    frags.append(_render(site, role, "40-slots.conf", "Slots: partitionable, GPUs, what this class offers.",
                         gpus=cls.gpus, node_class=cls.name, offered=cls.images,
                         node_class_attr=ex.NODE_CLASS, offered_attr=ex.OFFERED))
    frags.append(_render(site, role, "45-class-policy.conf", "Class policy: site slot attributes, the admin switch.",
                         attributes=cp.attributes(cls), switch=site.switch_attribute, persistent_dir=site.switch_dir))
    frags.append(_render(site, role, "50-containers.conf", f"Containers: every job in an Apptainer image of the OS it names in {site.job_attribute}.",
                         runtime=site.runtime, all_jobs=site.all_jobs, singularity_job=ui.singularity_job(site),
                         images=[(os_name, site.images[os_name]) for os_name in _with_default(site, cls)],
                         resolved={r.os_name: r for r in newest.resolutions(site, _with_default(site, cls))},
                         cache_macro=newest.CACHE_MACRO, cache_value=newest.CACHE_VALUE,
                         image_macro=ex.image_macro, job_attribute=site.job_attribute, default_os=site.default_os,
                         chain=ex.image_chain(site, cls) if ex.uses_chain(cls) else None,
                         record=None if ex.uses_chain(cls) else ex.image_record(site, cls),
                         binds=cp.bind_list(site, cls), target_dir=site.target_dir, threads_env=site.threads_env,
                         login_environment=site.login_environment, login_switch=img.LOGIN_SWITCH, login_hook=img.HOOK_TARGET,
                         user_images=site.user_images, user_image_expr=ui.image_expr(site)))
    generated = generated_line(site, SOURCE, f"the role {role}")
    frags += [Fragment(role, name, text) for name, text in newest.files(site, _with_default(site, cls), generated)]
    if site.health_script is not None:
        frags.append(_render(site, role, "60-health.conf", "Node health: the health script as a startd cron job.",
                             script=site.health_script, period=ex.period(site.health_period), names=site.health_names))
    if site.reboots is not None:
        r = site.reboots
        frags.append(_render(site, role, "70-reboots.conf", "Reboot draining: the node asks for a drain; backfill while draining.",
                             check=r["check"], period=ex.period(r["period"]), spread_days=r["spread_days"],
                             drain_hours=rb.drain_seconds(site) / 3600, delay=rb.reboot_delay(site),
                             attributes=list(rb.node_attributes(site).items()), retirement=rb.retirement(site),
                             backfill=rb.backfill(), draining_start=rb.draining_start()))
    frags.append(_render(site, role, "80-start.conf", "START: which jobs this class runs.",
                         start_os=ui.start_os(site, cls), start_interactive=ex.start_interactive(cls),
                         start_health=ex.start_health(site), start_drain=rb.start_drain(site),
                         start_gpu=cp.start_gpu(cls), start_class=cp.start_class(cls), start_switch=cp.start_switch(site)))
    return frags


def _with_default(site: Site, cls: NodeClass) -> list[str]:
    """The class's OSes, plus the default (CHOSEN_IMAGE starts from its image)."""
    names = list(cls.images)
    if site.default_os not in names:
        names.insert(0, site.default_os)
    return names
