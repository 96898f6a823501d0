"""The ``keepref-lint`` command: check, fix, explain."""

from __future__ import annotations

import sys
import time

from keepref_lint.arguments import parse_args
from keepref_lint.codes import RULES, rule_page
from keepref_lint.config import ConfigError, Settings, load_settings, with_overrides
from keepref_lint.engine import RunResult, run
from keepref_lint.finding import Finding
from keepref_lint.output import format_github, format_json, format_sarif, format_text
from keepref_lint.project import display_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from argparse import Namespace
    from collections.abc import Sequence

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _settings(args: Namespace) -> Settings:
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


def _write_findings(args: Namespace, findings: list[Finding], result: RunResult) -> None:
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


def _check(args: Namespace, result: RunResult) -> int:
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


def _fix(args: Namespace, result: RunResult) -> int:
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
            from collections import Counter

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


def _suggest(args: Namespace) -> int:
    import os

    from keepref_lint.analysis import Project
    from keepref_lint.suggest import apply_suggestions, suggestions

    try:
        settings = _settings(args)
    except ConfigError as error:
        print(f"keepref-lint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    within = [os.path.realpath(p) for p in args.paths]
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
    """The command; Ctrl-C at any point ends it with status 130 (files are then old or new, never half
    written, and no worker process is left)."""
    try:
        status = _main(argv)
    except KeyboardInterrupt:
        print("keepref-lint: interrupted", file=sys.stderr)
        status = 130
    if status == 130:
        # CPython marks a KeyboardInterrupt that ends a string ``exec`` (namedtuple and dataclass
        # creation use one) as unhandled even when it is caught, and under ``python -m`` then exits by
        # SIGINT instead of with our status; each string ``exec`` clears the mark first.
        exec("None", {})
    return status


def _report_stale(result: RunResult) -> None:
    if result.stale_removed:
        print(
            f"keepref-lint: removed {_plural(len(result.stale_removed), 'temporary file')} left by an"
            f" interrupted fix: {', '.join(map(display_path, result.stale_removed))}",
            file=sys.stderr,
        )
    for path in result.stale_reported:
        print(
            f"keepref-lint: {display_path(path)}: looks like a temporary file left by an interrupted fix;"
            " remove it if no fix is running",
            file=sys.stderr,
        )


def _main(argv: Sequence[str] | None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
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
    _report_stale(result)
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
