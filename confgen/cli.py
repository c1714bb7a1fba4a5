"""The command line: the one place that prints and picks exit codes.

0 ok, 1 problems in the input (every one reported) or in writing the output, 2 usage, 3 a bug in confgen.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from confgen import __version__
from confgen.diagnostics import format_report
from confgen.errors import InputError, OutputError

if TYPE_CHECKING:  # the pipeline is imported lazily, so that usage errors answer at once
    from confgen.render import Fragment

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="confgen", description="site.yaml in, proven HTCondor condor_config.d fragments out.")
    parser.add_argument("--version", action="version", version=f"confgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("site", nargs="?", default="site.yaml", help="the site description (default: site.yaml)")
        p.add_argument("--format", choices=("text", "json"), default="text", help="how to print problems")
        p.add_argument("--traceback", action="store_true", help="show the traceback of an internal error")

    render = sub.add_parser("render", help="validate, then write output/<role>/ fragments")
    common(render)
    render.add_argument("-o", "--output", default="output", help="output directory (default: output)")
    mode = render.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="write nothing; exit 1 and list the files that would change")
    mode.add_argument("--dry-run", action="store_true", help="write nothing; print the plan")

    check = sub.add_parser("check", help="validate only: HTCondor's parser, ClassAd evaluation, security lint")
    common(check)

    schema = sub.add_parser("schema", help="print the JSON Schema of site.yaml")
    schema.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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
    except KeyboardInterrupt:
        print("confgen: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.traceback:
            traceback.print_exc()
        print(f"confgen: internal error: {type(exc).__name__}: {exc}. This is a bug in confgen; please report it (run again with --traceback for details).", file=sys.stderr)
        return EXIT_BUG


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "schema":
        from confgen.site.schema import schema_text

        sys.stdout.write(schema_text())
        return EXIT_OK
    from confgen.render import render_site
    from confgen.site import load_site
    from confgen.validate import validate

    site = load_site(Path(args.site), display=args.site)
    fragments = render_site(site)
    report = validate(site, fragments, label=getattr(args, "output", "output"))
    if not report.ok:
        sys.stdout.write(format_report(report.diagnostics, args.format))
        print(f"confgen: {report.summary()}; nothing was written", file=sys.stderr)
        return EXIT_INPUT
    if args.command == "check":
        sys.stdout.write(format_report(report.notes, args.format) if report.notes else "")
        warnings = sum(1 for d in report.notes if d.severity == "warning")
        print(f"confgen check: {report.summary()}" + (f", {warnings} warning(s)" if warnings else ""))
        return EXIT_OK
    return _render(args, fragments, report.summary())


def _render(args: argparse.Namespace, fragments: list[Fragment], summary: str) -> int:
    from confgen.output import plan, write

    outdir = Path(args.output)
    if args.check or args.dry_run:
        try:
            changes = plan(fragments, outdir)
        except OSError as exc:
            raise OutputError(f"cannot read {exc.filename or outdir}: {exc.strerror or exc}") from exc
        pending = [c for c in changes if c.action != "unchanged"]
        for change in pending if args.check else changes:
            print(f"{change.action:9} {outdir / change.path}")
        if args.check:
            print(f"confgen: {len(pending)} file(s) would change" if pending else "confgen: output is up to date")
            return EXIT_INPUT if pending else EXIT_OK
        return EXIT_OK
    changes, recovered = write(fragments, outdir)
    for note in recovered:
        print(f"confgen: {note}", file=sys.stderr)
    pending = [c for c in changes if c.action != "unchanged"]
    for change in pending:
        print(f"{change.action:9} {outdir / change.path}")
    print(f"confgen render: {summary}; {len(pending)} file(s) changed in {outdir}")
    return EXIT_OK
