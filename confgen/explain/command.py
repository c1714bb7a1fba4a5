"""`confgen explain [SITE] (--job 'ATTR = VALUE; …' | --job-file SUBMIT) [--class C] [--interactive]`."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import classad2

from confgen.diagnostics import format_report
from confgen.errors import OutputError
from confgen.explain.decide import explain_job
from confgen.explain.report import as_json, as_text


def explain(args: argparse.Namespace) -> int:
    from confgen.render import render_site
    from confgen.site import load_site

    site = load_site(Path(args.site), display=args.site)
    if args.node_class is not None and args.node_class not in [c.name for c in site.node_classes]:
        raise OutputError(f"--class {args.node_class!r} is not a node class of this site; name one of: {', '.join(c.name for c in site.node_classes)}")
    job = _job_from_file(args.job_file) if args.job_file else _job_from_text(args.job or "")
    if args.interactive:
        job["InteractiveJob"] = True
    job.setdefault("Owner", "someone")
    job.setdefault("RequestCpus", 1)
    try:
        explanation = explain_job(site, render_site(site), job, args.node_class)
    except ValueError as exc:
        sys.stdout.write(format_report([]))
        raise OutputError(f"the rendered roles do not load: {exc}; run `confgen check`") from exc
    sys.stdout.write(as_json(explanation) if args.format == "json" else as_text(explanation))
    return 0


def _job_from_text(text: str) -> dict[str, Any]:
    """`ATTR = VALUE; …` in ClassAd syntax (strings in double quotes). Every attribute written must be
    read: the parser skips a malformed one silently, so that is refused here."""
    hint = "write for example --job 'ContainerOS = \"Rocky9\"; RequestCpus = 2' (strings in double quotes, ';' between)"
    try:
        ad = classad2.parseOne("[" + text + "]")
    except Exception:
        raise OutputError(f"--job {text!r} is not a list of ClassAd assignments; {hint}") from None
    written = re.findall(r"(?:^|;)\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=(?!=)", text)
    missing = [name for name in written if name not in ad]
    if missing or (not written and text.strip()):
        raise OutputError(f"--job {text!r}: could not read {', '.join(missing) or 'any attribute'}; {hint}")
    job = {k: _literal(ad, k) for k in ad}
    for name, value in job.items():
        if isinstance(value, classad2.ExprTree) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(value)):
            raise OutputError(f"--job: {name} = {value} names an attribute {value!r}, not a string; write {name} = \"{value}\" for the string")
    return job
def _job_from_file(path: str) -> dict[str, Any]:
    """A real submit file through `condor_submit -dump` (the host's; the job ad it would queue)."""
    if shutil.which("condor_submit") is None:
        raise OutputError("--job-file needs condor_submit on PATH (it turns the submit file into the job ad); "
                          "without it, give the job's attributes with --job 'ATTR = VALUE; …'")
    with tempfile.TemporaryDirectory(prefix="confgen-explain-") as tmp:
        dump = Path(tmp) / "job.ad"
        proc = subprocess.run(["condor_submit", "-dump", str(dump), path], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0 or not dump.exists():
            raise OutputError(f"condor_submit -dump {path} failed: {(proc.stderr or proc.stdout).strip()[:400]}")
        ads = classad2.parseAds(dump.read_text())
        first = next(iter(ads), None)
    if first is None:
        raise OutputError(f"condor_submit -dump {path} gave no job ad")
    return {k: _literal(first, k) for k in first}


def _literal(ad: classad2.ClassAd, key: str) -> Any:
    """A literal value as Python, anything else as the ClassAd expression it is (HTCondor keeps it so)."""
    value = ad[key]
    return value if isinstance(value, str | int | float | bool | classad2.ExprTree) else ad.lookup(key)
