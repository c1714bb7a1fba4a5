"""`confgen check` and images resolved on the node: HTCondor's real parser reads the rendered
`include command into <cache> : ...` lines unchanged, with each cache file written beforehand with a
sample answer (`<MACRO> = <path>/<glob>`, the glob as written), so the parser reads the cache and does
not run the script, which lives on the execute nodes. A note says which image each check assumed."""

from __future__ import annotations

import re
from pathlib import Path

from confgen.diagnostics import Diagnostic
from confgen.render import newest_images as newest
from confgen.site.model import Site

#: A rendered include line (confgen/render/newest_images.py): cache, macro, path, glob.
INCLUDE = re.compile(r"^include command into (\S+) : /bin/sh \S+ ([A-Z0-9_]+) (/\S*) (\S+) \S+$", re.M)
#: The cache file of a rendered include line, as confgen/render/newest_images.py writes it.
CACHE_FILE = re.compile(re.escape(newest.CACHE_DIR) + r"/([^/\s]+)")


def stage(texts: list[str], local_dir: Path) -> str:
    """Write the sample cache files of the include lines in `texts` under `local_dir`; return the root
    config line that points the caches there ("" when the role resolves nothing on the node)."""
    found = [m.groups() for text in texts for m in INCLUDE.finditer(text)]
    if not found:
        return ""
    local_dir.mkdir(parents=True, exist_ok=True)
    for cache, macro, path, glob in found:
        m = CACHE_FILE.fullmatch(cache)
        if m is None:
            continue
        target = local_dir / m.group(1)
        target.write_text(f"{macro} = {path}/{glob}\n", encoding="utf-8")
    return f"{newest.CACHE_KNOB} = {local_dir}\n"


def notes(site: Site) -> list[Diagnostic]:
    """One note per image resolved on the node: the sample the checks assumed."""
    out = []
    for os_name in site.newest:
        r = newest.resolution(site, os_name)
        message = (f"resolved on each execute node ({r.macro}: the newest build under {r.newest.path} named {r.newest.glob}); "
                   f"the checks assumed {r.macro} = {site.images[os_name]}. The node keeps its answer in {r.node_cache} "
                   f"until that file is removed ({newest.REFRESH})")
        out.append(site.diag(("containers", "images", os_name), message, code="newest", severity="note"))
    return out
