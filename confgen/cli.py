"""The command line: the one place that prints and picks exit codes.

0 ok, 1 problems in the input (every one reported) or in writing the output, 2 usage, 3 a bug in confgen,
4 `render --check`: the site is valid and the output directory would change.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from confgen import __version__
from confgen.diagnostics import format_report
from confgen.errors import InputError, OutputError

if TYPE_CHECKING:  # the pipeline is imported lazily, so that usage errors answer at once
    from confgen.render import Fragment

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_BUG, EXIT_WOULD_CHANGE = 0, 1, 2, 3, 4


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("site", nargs="?", default="site.yaml", help="the site description (default: site.yaml)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="how to print problems")
    p.add_argument("--strict", action="store_true", help="treat warnings as problems (exit 1, nothing written)")
    p.add_argument("--traceback", action="store_true", help="show the traceback of an internal error")


def _render_args(render: argparse.ArgumentParser) -> None:
    _common(render)
    render.add_argument("-o", "--output", default="output", help="output directory (default: output)")
    mode = render.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="write nothing; exit 4 and list the files that would change (0: up to date)")
    mode.add_argument("--dry-run", action="store_true", help="write nothing; list the files that would change")
    render.add_argument("--diff", action="store_true", help="with --check or --dry-run: show each change as a unified diff")
    render.add_argument("--verbose", action="store_true", help="with --dry-run: also list the files that stay as they are")


def _diff_args(diff: argparse.ArgumentParser) -> None:
    diff.add_argument("role", nargs="?", help="the role to deploy (default: the role whose confgen files the host has)")
    diff.add_argument("--site", default="site.yaml", help="the site description (default: site.yaml)")
    diff.add_argument("--live", action="store_true", required=True, help="compare with the configuration HTCondor reads on this host now")
    diff.add_argument("--dump", metavar="FILE", help="a saved `condor_config_val -dump -expanded -verbose` of the host, instead of asking this host")
    diff.add_argument("--format", choices=("text", "json"), default="text", help="how to print")
    diff.add_argument("--traceback", action="store_true", help="show the traceback of an internal error")


def _explain_args(explain: argparse.ArgumentParser) -> None:
    explain.add_argument("site", nargs="?", default="site.yaml", help="the site description (default: site.yaml)")
    job = explain.add_mutually_exclusive_group(required=True)
    job.add_argument("--job", metavar="'ATTR = VALUE; ...'", help='the job\'s attributes in ClassAd syntax, e.g. \'ContainerOS = "Rocky9"; RequestCpus = 2\'')
    job.add_argument("--job-file", metavar="SUBMIT", help="a submit file, turned into the job ad by condor_submit -dump (needs condor_submit)")
    explain.add_argument("--class", dest="node_class", metavar="C", help="only this node class")
    explain.add_argument("--interactive", action="store_true", help="as condor_submit -interactive (InteractiveJob = true)")
    explain.add_argument("--format", choices=("text", "json"), default="text", help="how to print")
    explain.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _install_args(wheel: argparse.ArgumentParser) -> None:
    wheel.add_argument("site", nargs="?", default="site.yaml", help="the site description (default: site.yaml)")
    wheel.add_argument("--series", metavar="MAJOR.MINOR", help="this release series instead of the site's htcondor_version")
    wheel.add_argument("--target", metavar="DIR", help="install here (then set CONFGEN_HTCONDOR_<MAJOR>_<MINOR>=DIR) instead of the per-user cache")
    wheel.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _init_args(init: argparse.ArgumentParser) -> None:
    init.add_argument("site", nargs="?", default="site.yaml", help="where to write it (default: site.yaml); never replaced")
    init.add_argument("--from-example", action="store_true", help="the full commented example instead of a minimal site")
    init.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _schema_args(schema: argparse.ArgumentParser) -> None:
    schema.add_argument("--output", metavar="PATH", help="write it to PATH (replaced atomically) instead of printing it")
    schema.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


#: command -> (its help line, what adds its arguments), in the order `confgen --help` lists them
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "render": ("validate, then write output/<role>/ fragments", _render_args),
    "check": ("validate only: HTCondor's parser, ClassAd evaluation, security lint", _common),
    "diff": ("--live: what deploying a role changes on a host, knob by knob", _diff_args),
    "explain": ("what the pool would do with one job: submit, START per class and why, image, binds", _explain_args),
    "install-htcondor": ("install the HTCondor wheel of the site's htcondor_version, for check to validate with", _install_args),
    "init": ("write a first site.yaml that passes check, and its schema beside it", _init_args),
    "schema": ("print the JSON Schema of site.yaml", _schema_args),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line. With `only` (a command), that command's parser alone: parsing one command needs
    no other, and building all of them took longer than a small site's check spends on its own work.
    `confgen --help`, and any command line that does not start with a command, gets all of them."""
    parser = argparse.ArgumentParser(prog="confgen", description="site.yaml in, proven HTCondor condor_config.d fragments out.")
    parser.add_argument("--version", action="version", version=f"confgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_line, add_arguments) in COMMANDS.items():
        if only is None or name == only:
            add_arguments(sub.add_parser(name, help=help_line))
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(words[0] if words and words[0] in COMMANDS else None)
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return _dispatch(args)
    except InputError as exc:
        sys.stdout.write(format_report(exc.diagnostics, getattr(args, "format", "text")))
        print(f"confgen: {len(exc.diagnostics)} problem(s); nothing was written", file=sys.stderr)
        return EXIT_INPUT
    except OutputError as exc:
        print(f"confgen: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # the system refused something (disk full, read-only, no file descriptors): not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"confgen: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("confgen: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.traceback:
            import traceback  # only here: importing it costs a few ms of every run

            traceback.print_exc()
        print(f"confgen: internal error: {type(exc).__name__}: {exc}. This is a bug in confgen; please report it (run again with --traceback for details).", file=sys.stderr)
        return EXIT_BUG


def run() -> None:
    """The command's entry: main(), its output flushed, then the process ends without the interpreter's
    shutdown (tearing down every imported module costs about as much as checking a small site)."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        sys.exit(code)  # the interpreter reports a failed flush as it always does
    os._exit(code)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "schema":
        from confgen.site.schema import schema_text

        if args.output:
            _write_schema(Path(args.output), schema_text())
            print(f"confgen schema: wrote {args.output}; point the site's first line at it: # yaml-language-server: $schema={args.output}")
        else:
            sys.stdout.write(schema_text())
        return EXIT_OK
    if args.command == "init":
        from confgen.scaffold import NEXT_STEPS, init

        written = init(Path(args.site), args.from_example)
        print(f"confgen init: wrote {', '.join(map(str, written))} ({'the example' if args.from_example else 'a minimal site'})")
        print(NEXT_STEPS.format(site=args.site))
        return EXIT_OK
    if args.command == "install-htcondor":
        return _install_htcondor(args)
    if args.command == "explain":
        from confgen.explain.command import explain

        return explain(args)
    if args.command == "diff":
        from confgen.live.command import diff_live

        return diff_live(args)
    from confgen.parser_process import started_early

    with started_early(args.site):  # HTCondor's parser starts while confgen loads and renders the site
        from confgen.render import render_site
        from confgen.site import load_site
        from confgen.validate import validate

        site = load_site(Path(args.site), display=args.site)
        fragments = render_site(site)
        report = validate(site, fragments, label=getattr(args, "output", "output"))
    if not report.ok or (args.strict and report.warnings):
        sys.stdout.write(format_report(report.diagnostics, args.format))
        print(f"confgen: {report.summary()}{' (--strict: warnings count)' if report.ok else ''}; nothing was written", file=sys.stderr)
        return EXIT_INPUT
    if args.command == "check":  # warnings and notes are check's output, before the summary
        if args.format == "json":
            doc = {"summary": report.summary(), "problems": [], "warnings": [d.as_dict() for d in report.notes if d.severity == "warning"],
                   "notes": [d.as_dict() for d in report.notes if d.severity != "warning"]}
            sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        else:
            sys.stdout.write(format_report(report.notes))
            print(f"confgen check: {report.summary()}")
        return EXIT_OK
    if report.notes and args.format == "text":  # render: stdout lists the files
        sys.stderr.write(format_report(report.notes))
    return _render(args, fragments, report.summary())


def _install_htcondor(args: argparse.Namespace) -> int:
    from confgen import wheels

    if args.series:
        if not re.fullmatch(r"[0-9]{1,3}\.[0-9]{1,3}", args.series):
            print(f"confgen install-htcondor: --series {args.series!r}: write MAJOR.MINOR, e.g. 24.0", file=sys.stderr)
            return EXIT_USAGE
        series = wheels.series_of(args.series)
    else:
        from confgen.site import load_site

        series = load_site(Path(args.site), display=args.site).htcondor_version
    if wheels.pinned().series == series:
        print(f"confgen install-htcondor: {wheels.pinned().describe()} is of series {wheels.label(series)}: nothing to install")
        return EXIT_OK
    target = Path(args.target) if args.target else wheels.cache_dir(series)
    done, output = wheels.install(series, target)
    if not done:
        print(f"confgen install-htcondor: pip could not install htcondor=={wheels.label(series)}.* into {target}:\n{output}", file=sys.stderr)
        return EXIT_INPUT
    where = "" if not args.target else f"; set {wheels.env_var(series)}={target} for check to find it"
    print(f"confgen install-htcondor: htcondor {wheels.installed_version(target)} in {target}{where}; `confgen check` validates with it")
    return EXIT_OK


def _write_schema(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.confgen-tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _render(args: argparse.Namespace, fragments: list[Fragment], summary: str) -> int:
    from confgen.output import plan, write
    from confgen.plan_report import as_diff, as_json, as_lines, changed

    outdir = Path(args.output)
    as_text = args.format == "text"
    if args.check or args.dry_run:
        try:
            changes = plan(fragments, outdir)
        except OSError as exc:
            raise OutputError(f"cannot read {exc.filename or outdir}: {exc.strerror or exc}") from exc
        pending = changed(changes)
        state = "would-change" if pending else "up-to-date"
        if not as_text:
            sys.stdout.write(as_json(changes, outdir, summary, diff=args.diff, state=state))
        elif args.diff:
            sys.stdout.write(as_diff(changes, outdir))
        else:
            sys.stdout.write(as_lines(changes if args.dry_run and args.verbose else pending, outdir))
        if as_text:
            print(f"confgen: {len(pending)} file(s) would change" if pending else "confgen: output is up to date",
                  file=sys.stderr if args.diff else sys.stdout)
        return EXIT_WOULD_CHANGE if args.check and pending else EXIT_OK
    if args.diff or args.verbose:
        print("confgen: --diff and --verbose go with --check or --dry-run", file=sys.stderr)
        return EXIT_USAGE
    changes, recovered = write(fragments, outdir)
    for note in recovered:
        print(f"confgen: {note}", file=sys.stderr)
    pending = changed(changes)
    if not as_text:
        sys.stdout.write(as_json(changes, outdir, summary, diff=False, state="written"))
        return EXIT_OK
    sys.stdout.write(as_lines(pending, outdir))
    print(f"confgen render: {summary}; {len(pending)} file(s) changed in {outdir}")
    return EXIT_OK
