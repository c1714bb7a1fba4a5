"""extra_config rendered: 90-extra.conf, the last file of each role that gets knobs from it."""

from __future__ import annotations

from confgen.render import jupyterhub
from confgen.render.env import make_env
from confgen.render.provenance import generated_line
from confgen.site import extra_config
from confgen.site.model import Site

FILE = "90-extra.conf"
TOPIC = "extra_config: knobs the site sets that confgen does not model."


def files(site: Site, source: str) -> list[tuple[str, str, str]]:
    """(role, file name, text) of every HTCondor role with at least one extra_config knob."""
    out: list[tuple[str, str, str]] = []
    template = make_env().get_template(f"{FILE}.j2")
    for role in (r for r in site.roles() if r != jupyterhub.ROLE):
        if knobs := extra_config.for_role(site, role):
            out.append((role, FILE, template.render(source=source, role=role, topic=TOPIC, knobs=knobs,
                                                             generated=generated_line(site, source, f"the role {role}"))))
    return out
