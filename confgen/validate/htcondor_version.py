"""`site.htcondor_version` in `confgen check`: which HTCondor release read the roles, said as a note with
the key's position, and how to install the wheel of the pool's series when it is missing
(confgen/wheels.py finds it). The floor is refused earlier, in confgen/site/version.py."""

from __future__ import annotations

import os

from confgen import wheels
from confgen.diagnostics import Diagnostic
from confgen.site.model import Site

WHERE = ("site", "htcondor_version")


def choose(site: Site) -> wheels.Wheel | None:
    return wheels.find(site.htcondor_version)


def note(site: Site, wheel: wheels.Wheel | None) -> Diagnostic:
    series = wheels.label(site.htcondor_version)
    own = wheels.pinned()
    if wheel is not None and wheel.path is None:
        text = f"{own.describe()} read every role and evaluated the checks: the pool's oldest series, {series}"
    elif wheel is not None:
        text = (f"{wheel.describe()} read every role: the pool's oldest series, {series}; "
                f"the checks were evaluated with classad2 {own.version}")
    else:
        named = os.environ.get(wheels.env_var(site.htcondor_version))
        wrong = f"; {wheels.env_var(site.htcondor_version)}={named} holds no htcondor {series} wheel" if named else ""
        text = (f"{own.describe()} validated this site, not the pool's oldest series {series} (no wheel of {series} is installed{wrong}): "
                f"`confgen install-htcondor` puts htcondor=={series}.* into {wheels.cache_dir(site.htcondor_version)}, "
                f"or set {wheels.env_var(site.htcondor_version)} to a `pip install --target` directory of it")
    return site.diag(WHERE, text, code="htcondor-version", severity="note")
