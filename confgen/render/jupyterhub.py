"""The `jupyterhub` role: the spawner's options derived from the site, and the hub's config snippet.

These files are not HTCondor configuration: `spawner-options.json` is read by
`confgen.hub.spawner.SiteCondorSpawner` on the hub host, and `confgen_config.py` is loaded from the
hub's jupyterhub_config.py. Everything a user may choose comes from here, so the form can never offer
an OS no class runs, nor a limit the pool refuses.
"""

from __future__ import annotations

import json
from typing import Any

from confgen.hub.options import FORMAT as OPTIONS_FORMAT
from confgen.render.provenance import generated_line
from confgen.site.model import Site
from confgen.site.runtime import runtime_attribute

#: Where a notebook's runtime goes when the site has no runtime attribute: HTCondor's own limit (seconds).
HTCONDOR_RUNTIME = "AllowedExecuteDuration"

ROLE = "jupyterhub"
OPTIONS_FILE = "spawner-options.json"
SNIPPET_FILE = "confgen_config.py"

def hub_options(site: Site) -> dict[str, Any]:
    """What a notebook may ask for. Each entry: the allowed values or range, and the preselected one."""
    hub = site.jupyterhub
    assert hub is not None
    os_choices = site.notebook_os()
    runtime = _runtime_hours(site)
    options: dict[str, Any] = {
        "format": OPTIONS_FORMAT,
        "pool": site.name,
        "os": {
            "attribute": site.job_attribute,
            "choices": os_choices,
            "default": site.default_os if site.default_os in os_choices else os_choices[0],
            "with_gpus": site.notebook_os(gpus=True) if hub.max_gpus > 0 else [],
        },
        "cpus": {"min": 1, "max": hub.max_cpus, "default": 1},
        "memory_gb": {"min": 1, "max": hub.max_memory_gb, "default": min(2, hub.max_memory_gb)},
        "runtime_hours": runtime,
        "gpus": {"min": 0, "max": hub.max_gpus, "default": 0},
        "environment": {"choices": list(hub.environments), "default": hub.environments[0]} if hub.environments else None,
        "attributes": [_attribute(a) for a in site.job_attributes if a.name != runtime["attribute"]],
    }
    return options


def _runtime_hours(site: Site) -> dict[str, Any]:
    """The runtime a notebook may ask for, in hours; the job gets hours * per_hour in `attribute`."""
    hub = site.jupyterhub
    assert hub is not None
    attr, limit = runtime_attribute(site), site.runtime_limit
    if attr is None or limit is None:
        return {"attribute": HTCONDOR_RUNTIME, "per_hour": 3600, "min": 1, "max": hub.max_runtime_hours,
                "default": min(2, hub.max_runtime_hours)}
    assert attr.min is not None
    per_hour = 3600 // limit.seconds
    least = max(1, -(-attr.min // per_hour))
    default = max(least, -(-int(attr.default) // per_hour))
    return {"attribute": attr.name, "per_hour": per_hour, "min": least, "max": hub.max_runtime_hours,
            "default": min(default, hub.max_runtime_hours)}


def _attribute(attr: Any) -> dict[str, Any]:
    if attr.type == "string":
        return {"name": attr.name, "type": "string", "choices": list(attr.values), "default": attr.default}
    top = attr.interactive_max if attr.interactive_max is not None else attr.max
    return {"name": attr.name, "type": "integer", "min": attr.min, "max": top, "default": min(int(attr.default), top)}


def options_text(site: Site) -> str:
    return json.dumps(hub_options(site), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def snippet_text(site: Site, source: str) -> str:
    hub = site.jupyterhub
    assert hub is not None
    options_path = f"{hub.config_dir}/{OPTIONS_FILE}"
    return f'''{generated_line(site, source, "the JupyterHub host")}
# Load it from jupyterhub_config.py:  load_subconfig({json.dumps(f"{hub.config_dir}/{SNIPPET_FILE}")})
# Needs on the hub host: `pip install 'confgen-htcondor[hub]'` (the spawner, next to batchspawner and jupyterhub),
# ssh, and the submit role's condor_config.d (this host is an access point of the pool).
c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

import confgen.hub.spawner  # noqa: E402  (also guards batchspawner's port API before the hub starts)

c.JupyterHub.spawner_class = "confgen.hub.spawner.SiteCondorSpawner"
# The notebook options: the OS list, limits and job attributes of the pool.
c.SiteCondorSpawner.site_options_file = {json.dumps(options_path)}
# Notebooks keep running across a hub restart; the spawner re-opens their tunnels.
c.JupyterHub.cleanup_servers = False
'''
