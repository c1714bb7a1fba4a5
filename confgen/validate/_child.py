"""Child process: load role trees with HTCondor's config parser and print each knob's final text.

A plain script: run as `python -P confgen/validate/_child.py`. It imports only the standard library
and `htcondor2` (never confgen's package, whose imports cost more than the parser's work), so which
interpreter and which sys.path run it is the caller's choice alone. It imports htcondor2 first, then
reads its JSON job list on stdin: a parent can start it early and send the jobs when they are
rendered. An empty stdin ends it quietly (the parent needed no parser after all).

A syntax error makes HTCondor call exit(1) inside this process and a macro cycle hangs it: the parent
watches for both. A job with a "subsystem" reads the role as that daemon does. Output, one line each:
`ROLE <name>` before a role is loaded, `LOADED` once the parser has read it, `PROBE <knob>` before
each knob's final text is expanded, then `KNOBS <json>`. The parent gives each step its own time and,
from the last line it read, tells a role too large to read in time from a knob whose expansion does
not end (a macro cycle).
"""

from __future__ import annotations

import json
import os
import sys

ALL_KNOBS = "\0all"  # not a knob name: the entry that lists every knob, when a job asks for it


def main() -> None:
    for key in [k for k in os.environ if k.startswith("_CONDOR_") or k.startswith("_condor_")]:
        del os.environ[key]
    os.environ["CONDOR_CONFIG"] = "/dev/null"
    import htcondor2  # imported only here: the import reads CONDOR_CONFIG

    text = sys.stdin.read()
    if not text.strip():
        return
    out = sys.stdout
    for job in json.loads(text):
        print("ROLE", job["role"], file=out, flush=True)
        os.environ["CONDOR_CONFIG"] = job["root"]
        # A job may read the role as one daemon does (`SCHEDD.`-prefixed knobs apply); TOOL is the default.
        htcondor2.set_subsystem(job.get("subsystem", "TOOL"))
        htcondor2.reload_config()
        print("LOADED", file=out, flush=True)
        values = {}
        param = htcondor2.param
        for knob, probe in job["probes"].items():
            print("PROBE", knob, file=out, flush=True)
            value = param.get(probe)
            values[knob] = None if value is None else str(value)
        if job.get("list_all"):  # the names of every knob set, also by `use` lines and defaults
            values[ALL_KNOBS] = json.dumps(sorted(param.keys()))
        print("KNOBS", json.dumps(values), file=out, flush=True)


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # the interpreter's own shutdown costs more than the parser's work on a small site
