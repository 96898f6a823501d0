"""The ``keepref-lint`` command: check, fix, explain."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence

from keepref_lint import __version__
from keepref_lint.codes import RULES, rule_page
from keepref_lint.config import ConfigError, Settings, load_settings, with_overrides
from keepref_lint.engine import RunResult, run
from keepref_lint.finding import Finding
from keepref_lint.output import format_github, format_json, format_sarif, format_text

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _split_codes(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", default=["."], help="files or folders (default: .)")
    parser.add_argument(
        "--format",
        choices=("text", "json", "sarif", "github"),
        default="text",
        help="output format",
    )
    parser.add_argument(
        "--must-retain",
        action="append",
        default=[],
        metavar="QUALNAME[:ATTR]",
        help="treat this qualified name as must-retain (repeatable), e.g. pkg.mod.func:server",
    )
    parser.add_argument(
        "--decorator",
        action="append",
        default=[],
        metavar="NAME",
        help="another decorator name that marks must-retain definitions (repeatable)",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="read [tool.keepref-lint] from this pyproject.toml"
    )
    parser.add_argument(
        "--select", type=_split_codes, metavar="CODES", help="codes or prefixes to report"
    )
    parser.add_argument(
        "--ignore", type=_split_codes, metavar="CODES", help="codes or prefixes to skip"
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="exclude paths (glob, repeatable)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="processes to use (default: all cores)",
    )
    parser.add_argument(
        "--no-catalog", action="store_true", help="leave out the built-in catalog of APIs"
    )
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="cache folder (default: <root>/.keepref-cache)"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print findings only, no summary"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter with the terminal width found without ``shutil`` (argparse builds one for
    every option it adds, and importing ``shutil`` costs more than a warm run's lookups)."""

    def __init__(self, prog: str, **options: int | None) -> None:
        if options.get("width") is None:
            try:
                columns = int(os.environ.get("COLUMNS", "0"))
            except ValueError:
                columns = 0
            if columns <= 0:
                try:
                    columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
                except (AttributeError, ValueError, OSError):
                    columns = 80
            options["width"] = columns - 2
        super().__init__(prog, **options)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keepref-lint",
        formatter_class=_Formatter,
        description="Find and fix dropped lifetime-critical return values.",
    )
    parser.add_argument("--version", action="version", version=f"keepref-lint {__version__}")
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
    )
    check = commands.add_parser(
        "check", help="report dropped must-retain results", formatter_class=_Formatter
    )
    _common(check)
    fix = commands.add_parser(
        "fix", help="rewrite drops to keep a reference", formatter_class=_Formatter
    )
    _common(fix)
    fix.add_argument("--diff", action="store_true", help="print a unified diff and write nothing")
    suggest = commands.add_parser(
        "suggest",
        help="list functions inferred must-retain that are not marked",
        formatter_class=_Formatter,
    )
    _common(suggest)
    suggest.add_argument(
        "--apply", action="store_true", help="add @must_retain (and its import) to them"
    )
    explain = commands.add_parser(
        "explain", help="print the documentation of a rule", formatter_class=_Formatter
    )
    explain.add_argument("code", help="a rule code such as KR001")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.paths, args.config)
    return with_overrides(
        settings,
        must_retain=args.must_retain,
        decorators=args.decorator,
        select=args.select,
        ignore=args.ignore,
        exclude=args.exclude,
        no_cache=args.no_cache,
        no_catalog=args.no_catalog,
        cache_dir=args.cache_dir,
    )


def _explain(code: str) -> int:
    code = code.upper()
    rule = RULES.get(code)
    if rule is None:
        print(
            f"keepref-lint: error: unknown rule {code!r} (known: {', '.join(RULES)})",
            file=sys.stderr,
        )
        return EXIT_ERROR
    page = rule_page(code)
    sys.stdout.write(page if page is not None else f"{rule.code} ({rule.name})\n\n{rule.summary}\n")
    return EXIT_CLEAN


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _report_errors(result: RunResult) -> None:
    for error in result.errors:
        print(str(error), file=sys.stderr)


def _write_findings(args: argparse.Namespace, findings: list[Finding], result: RunResult) -> None:
    if args.format == "json":
        sys.stdout.write(format_json(findings))
    elif args.format == "sarif":
        sys.stdout.write(format_sarif(findings, str(result.root)))
    elif args.format == "github":
        sys.stdout.write(format_github(findings))
    else:
        sys.stdout.write(format_text(findings))


class _Progress:
    """``files done/total, fixes`` on one terminal line, at most ten times a second."""

    def __init__(self) -> None:
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int, fixes: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        sys.stderr.write(
            f"\rkeepref-lint: {done}/{total} files, {fixes} fix{'' if fixes == 1 else 'es'} applied\x1b[K"
        )
        self.shown = True
        if done == total:
            sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def _check(args: argparse.Namespace, result: RunResult) -> int:
    findings = result.findings
    _write_findings(args, findings, result)
    if args.format == "text":
        if not args.quiet and findings:
            fixable = sum(f.fixable for f in findings)
            print(
                f"Found {_plural(len(findings), 'finding')} in {_plural(result.files_checked, 'file')} checked"
                f" ({fixable} fixable with `keepref-lint fix`)."
            )
    _report_errors(result)
    if result.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if findings else EXIT_CLEAN


def _fix(args: argparse.Namespace, result: RunResult) -> int:
    changed = [r for r in result.results if r.new_data is not None]
    fixed = [f for r in changed for f in r.findings if f.fixable]
    remaining = [
        f for r in result.results for f in r.findings if not (r.new_data is not None and f.fixable)
    ]
    remaining.sort(key=lambda f: f.sort_key())
    if args.diff:
        for file_result in sorted(changed, key=lambda r: r.file.display):
            sys.stdout.write(file_result.diff)
    if args.format != "text" or not args.diff:
        _write_findings(args, remaining, result)
    if not args.quiet and args.format == "text":
        verb = "Would fix" if args.diff else "Fixed"
        summary = f"{verb} {_plural(len(fixed), 'finding')} in {_plural(len(changed), 'file')}"
        if remaining:
            reasons = Counter(f.no_fix_reason or "not fixed" for f in remaining)
            summary += (
                f"; {len(remaining)} left without an automatic fix ("
                + "; ".join(f"{n} x {why}" for why, n in reasons.most_common())
                + ")"
            )
        print(summary + ".", file=sys.stderr if args.diff else sys.stdout)
    _report_errors(result)
    if result.errors:
        return EXIT_ERROR
    if args.diff:
        return EXIT_FINDINGS if changed or remaining else EXIT_CLEAN
    return EXIT_FINDINGS if remaining else EXIT_CLEAN


def _suggest(args: argparse.Namespace) -> int:
    from pathlib import Path

    from keepref_lint.analysis import Project
    from keepref_lint.suggest import apply_suggestions, suggestions

    try:
        settings = _settings(args)
    except ConfigError as error:
        print(f"keepref-lint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    within = [Path(p).resolve() for p in args.paths]
    items = suggestions(Project(settings).index.marks, within)
    for item in items:
        print(item.line())
    if args.apply and items:
        errors = apply_suggestions(items)
        for error in errors:
            print(str(error), file=sys.stderr)
        if not args.quiet:
            print(f"Marked {_plural(len(items) - len(errors), 'function')}.")
        return EXIT_ERROR if errors else EXIT_CLEAN
    return EXIT_FINDINGS if items else EXIT_CLEAN


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "explain":
        return _explain(args.code)
    if args.command == "suggest":
        return _suggest(args)
    try:
        settings = _settings(args)
        fixing = args.command == "fix"
        show_progress = fixing and not args.quiet and sys.stderr.isatty()
        result = run(
            args.paths,
            settings,
            fix=fixing,
            write=fixing and not args.diff,
            progress=_Progress() if show_progress else None,
            jobs=args.jobs,
        )
    except ConfigError as error:
        print(f"keepref-lint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("keepref-lint: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # an internal error: one line unless --debug
        if args.debug:
            import traceback

            traceback.print_exc()
        else:
            print(
                f"keepref-lint: internal error: {type(error).__name__}: {error} (rerun with --debug)",
                file=sys.stderr,
            )
        return EXIT_ERROR
    if result.interrupted:
        changed = [r.file.display for r in result.results if r.written]
        print(
            f"keepref-lint: interrupted after {result.files_checked} files; "
            f"{len(changed)} file(s) rewritten{': ' + ', '.join(changed) if changed else ''}; "
            "every other file is unchanged",
            file=sys.stderr,
        )
        return 130
    if args.command == "fix":
        return _fix(args, result)
    return _check(args, result)
