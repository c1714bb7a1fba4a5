"""Rendering: the jinja2 environment, the generated expressions and the per-role fragments."""

from confgen.render.roles import Fragment, htcondor_roles, render_site

__all__ = ["Fragment", "htcondor_roles", "render_site"]
