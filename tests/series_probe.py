"""Run as `python -m tests.series_probe SITE` with an HTCondor wheel's directory first on PYTHONPATH:
prints, as JSON, which htcondor2/classad2 this process and the parser's child imported, every knob's
final text in every rendered role, confgen check's result, and explain's decisions for jobs drawn from
the site (each OS, interactive, a GPU job). Everything runs with that wheel: the parser's child
inherits PYTHONPATH, and the ClassAd evaluation happens in this process. Used by
tests/test_htcondor_series.py to compare HTCondor release series."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

os.environ["CONDOR_CONFIG"] = "/dev/null"

import classad2
import htcondor2

from confgen.explain.decide import explain_job, load
from confgen.explain.report import as_json
from confgen.render import render_site
from confgen.site import load_site
from confgen.site.model import Site
from confgen.validate import _validate
from confgen.validate.parser import load_roles

CHILD_IMPORTS = "import os; os.environ['CONDOR_CONFIG'] = '/dev/null'; import htcondor2; print(htcondor2.__file__)"


def jobs(site: Site) -> list[dict[str, Any]]:
    base: dict[str, Any] = {"Owner": "someone", "RequestCpus": 2}
    found = [base, {**base, "InteractiveJob": True}, {**base, "RequestGPUs": 1}]
    return found + [{**base, site.job_attribute: name} for name in site.images]


def main(path: str) -> None:
    site = load_site(Path(path), display="site.yaml")
    fragments = render_site(site)
    configs, problems = load_roles(fragments)
    report = _validate(site, fragments, "output")
    loaded = load(fragments)
    child = subprocess.run([sys.executable, "-c", CHILD_IMPORTS], capture_output=True, text=True, check=True).stdout.strip()
    print(json.dumps({
        "version": htcondor2.version(), "htcondor2": htcondor2.__file__, "classad2": classad2.__file__, "child_htcondor2": child,
        "knobs": {role: c.knobs for role, c in configs.items()}, "load_problems": [p.as_dict() for p in problems],
        "check": {"summary": report.summary(), "diagnostics": [d.as_dict() for d in report.diagnostics]},
        "explain": [json.loads(as_json(explain_job(site, loaded, job))) for job in jobs(site)],
    }, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
