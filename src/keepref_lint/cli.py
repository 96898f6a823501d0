"""The ``keepref-lint`` command: check, fix, explain."""

from __future__ import annotations

import os
import sys
import time

from keepref_lint import memo, stats
from keepref_lint.arguments import parse_args
from keepref_lint.cache import cache_folder
from keepref_lint.config import ConfigError, Settings, load_settings, with_overrides
from keepref_lint.engine import RunResult, run
from keepref_lint.finding import Finding
from keepref_lint.output import format_github, format_json, format_text
from keepref_lint.project import display_path
from keepref_lint.streams import SafeStream

TYPE_CHECKING = False
if TYPE_CHECKING:
    from argparse import Namespace
    from collections.abc import Sequence
    from typing import Any, NoReturn

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _settings(args: Namespace, paths: list[str] | None = None) -> Settings:
    settings = load_settings(args.paths if paths is None else paths, args.config)
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
        extend_select=args.extend_select,
        extend_ignore=args.extend_ignore,
        respect_gitignore=False if args.no_respect_gitignore else None,
        force_exclude=args.force_exclude,
    )


def _explain(code: str) -> int:
    from keepref_lint.codes import RULES, rule_page

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


def _report_errors(result: RunResult, args: Namespace) -> None:
    if not args.quiet:
        for note in result.notes:
            print(str(note), file=sys.stderr)
    for error in result.errors:
        print(str(error), file=sys.stderr)
        if args.debug and getattr(error, "detail", ""):
            sys.stderr.write(error.detail)  # type: ignore[attr-defined]


def _write_findings(args: Namespace, findings: list[Finding], result: RunResult) -> None:
    sys.stdout.write(_formatted(args.format, findings, result))


def _formatted(name: str, findings: list[Finding], result: RunResult) -> str:
    if name == "json":
        return format_json(findings)
    if name == "sarif":
        from keepref_lint.sarif import format_sarif

        return format_sarif(findings, str(result.root), result.errors)
    if name == "github":
        return format_github(findings)
    if name == "text" and not findings:
        return ""
    if name in ("text", "concise") and not _colour_possible():
        return format_text(findings)  # the common case of a warm run: no further import
    from keepref_lint import output_formats as formats

    if name == "json-lines":
        return formats.format_json_lines(findings)
    if name == "junit":
        return formats.format_junit(findings, result.errors)
    if name == "gitlab":
        return formats.format_gitlab(findings, str(result.root))
    if name == "pylint":
        return formats.format_pylint(findings)
    style = formats.Style(formats.use_colour(sys.stdout))
    if name == "full":
        return formats.format_full(findings, style)
    return formats.format_concise(findings, style)


def _colour_possible() -> bool:
    """Could output_formats.use_colour say yes? (Checked here to spare a pipe the import.)"""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _text_format(args: Namespace) -> bool:
    return args.format in ("text", "concise", "full")


def _exit_for_findings(args: Namespace, found: bool) -> int:
    return EXIT_FINDINGS if found and not args.exit_zero else EXIT_CLEAN


def _statistics(args: Namespace, findings: list[Finding]) -> None:
    """``--statistics`` in place of the findings (as JSON for the JSON formats)."""
    from keepref_lint.output_formats import format_statistics

    if args.format in ("json", "json-lines"):
        import json

        from keepref_lint.codes import RULES

        counts: dict[str, list[int]] = {}
        for f in findings:
            entry = counts.setdefault(f.code, [0, 0])
            entry[0] += 1
            entry[1] += f.fixable
        rows = [
            {"code": code, "name": RULES[code].name, "count": n, "fixable": fixable == n}
            for code, (n, fixable) in sorted(counts.items(), key=lambda i: (-i[1][0], i[0]))
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        sys.stdout.write(format_statistics(findings))


class _Progress:
    """On a terminal (stderr): the phase of the run, then ``checking done/total files, fixes`` over the
    files that need parsing, on one line rewritten at most ten times a second and cleared at the end."""

    def __init__(self, fixing: bool, stream: Any) -> None:
        self.fixing = fixing
        self.stream = stream
        self.last = 0.0
        self.shown = False

    def _show(self, text: str) -> None:
        self.stream.write(f"\rkeepref-lint: {text}\x1b[K")
        self.stream.flush()
        self.shown = True

    def phase(self, text: str) -> None:
        self._show(f"{text}...")
        self.last = time.monotonic()

    def __call__(self, done: int, total: int, fixes: int) -> None:
        now = time.monotonic()
        if 0 < done < total and now - self.last < 0.1:
            return
        self.last = now
        text = f"checking {done:,}/{total:,} files"
        if self.fixing:
            text += f", {fixes} fix{'' if fixes == 1 else 'es'} applied"
        self._show(text)

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def _check(args: Namespace, result: RunResult) -> int:
    findings = result.findings
    if args.add_noqa:
        return _add_noqa(args, result)
    if args.statistics:
        _statistics(args, findings)
    else:
        _write_findings(args, findings, result)
    if _text_format(args) and not args.quiet:
        if findings:
            fixable = sum(f.fixable for f in findings)
            print(
                f"Found {_plural(len(findings), 'finding')} in {_plural(result.files_checked, 'file')} checked"
                f" ({fixable} fixable with `keepref-lint fix`)."
            )
        elif not result.errors:
            print("All checks passed!")
        if args.show_fixes:
            from keepref_lint.output_formats import format_show_fixes

            sys.stdout.write(format_show_fixes(findings, "Would fix"))
    _report_errors(result, args)
    if result.errors:
        return EXIT_ERROR
    return _exit_for_findings(args, bool(findings))


def _add_noqa(args: Namespace, result: RunResult) -> int:
    """``--add-noqa``: a ``# noqa`` for every finding's line, merged with the line's own."""
    from keepref_lint.add_noqa import add_noqa

    added, errors = add_noqa(result.findings)
    for error in errors:
        print(str(error), file=sys.stderr)
    if not args.quiet:
        print(f"Added {_plural(added, 'noqa directive')}.")
    _report_errors(result, args)
    return EXIT_ERROR if errors or result.errors else EXIT_CLEAN


def _fix(args: Namespace, result: RunResult) -> int:
    changed = [r for r in result.results if r.new_data is not None]
    fixed = [f for r in changed for f in r.findings if f.fixable]
    remaining = [
        f for r in result.results for f in r.findings if not (r.new_data is not None and f.fixable)
    ]
    remaining.sort(key=lambda f: f.sort_key())
    if args.statistics:
        _statistics(args, remaining)
    elif args.diff and not _text_format(args):
        # A machine format shows what the diff would: every finding, with the fix it would get.
        _write_findings(args, result.findings, result)
    elif args.diff:
        for file_result in sorted(changed, key=lambda r: r.file.display):
            sys.stdout.write(file_result.diff)
    else:
        _write_findings(args, remaining, result)
    if args.show_fixes and _text_format(args):
        from keepref_lint.output_formats import format_show_fixes

        stream = sys.stderr if args.diff else sys.stdout
        stream.write(format_show_fixes(fixed, "Would fix" if args.diff else "Fixed"))
    if not args.quiet and _text_format(args):
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
    _report_errors(result, args)
    if result.errors:
        return EXIT_ERROR
    if args.diff:
        return _exit_for_findings(args, bool(changed or remaining))
    return _exit_for_findings(args, bool(remaining))


def _suggest(args: Namespace) -> int:

    from keepref_lint.analysis import Project
    from keepref_lint.suggest import apply_suggestions, suggestions

    try:
        settings = _settings(args)
    except ConfigError as error:
        print(f"keepref-lint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    if args.format not in ("text", "concise", "json", "json-lines"):
        print(
            f"keepref-lint: error: suggest has no --format {args.format} "
            "(it lists definitions, not findings: use text or json)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    within = [os.path.realpath(p) for p in args.paths]
    items = suggestions(Project(settings).index.marks, within)
    _write_suggestions(args.format, items)
    if args.apply and items:
        errors = apply_suggestions(items)
        for error in errors:
            print(str(error), file=sys.stderr)
        if not args.quiet:
            print(
                f"Marked {_plural(len(items) - len(errors), 'function')}.",
                file=sys.stdout if args.format in ("text", "concise") else sys.stderr,
            )
        return EXIT_ERROR if errors else EXIT_CLEAN
    return EXIT_FINDINGS if items else EXIT_CLEAN


def _stdin_path(args: Namespace) -> str | None:
    """The path standard input stands for (``-`` among the paths, or ``--stdin-filename``), else None;
    ValueError when ``-`` comes with other paths."""
    import os

    name = getattr(args, "stdin_filename", None)
    if "-" not in args.paths and name is None:
        return None
    if [p for p in args.paths if p not in ("-", ".")] or args.paths.count("-") > 1:
        raise ValueError("standard input (-) is checked alone: give no other paths")
    if getattr(args, "add_noqa", False):
        raise ValueError("--add-noqa writes files: it cannot take standard input")
    return os.path.abspath(name if name is not None else "-")


def _fix_stdin(args: Namespace, result: RunResult, original: bytes) -> int:
    """``fix --stdin-filename PATH -``: the fixed text (or a diff) on standard output, nothing written;
    what is left without a fix on standard error."""
    changed = [r for r in result.results if r.new_data is not None]
    if args.diff:
        sys.stdout.write("".join(r.diff for r in changed))
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(changed[0].new_data if changed else original)  # type: ignore[arg-type]
        sys.stdout.flush()
    remaining = sorted(
        (
            f
            for r in result.results
            for f in r.findings
            if not (r.new_data is not None and f.fixable)
        ),
        key=Finding.sort_key,
    )
    if remaining:
        sys.stderr.write(format_text(remaining))
    _report_errors(result, args)
    if result.errors:
        return EXIT_ERROR
    if args.diff:
        return EXIT_FINDINGS if changed or remaining else EXIT_CLEAN
    return EXIT_FINDINGS if remaining else EXIT_CLEAN


def _server() -> int:
    try:
        from keepref_lint.server import main as serve
    except ImportError as error:
        print(
            f"keepref-lint: error: the language server needs pygls and lsprotocol ({error}); "
            "install keepref-lint[server]",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return serve()


def _write_suggestions(name: str, items: list) -> None:
    if name in ("text", "concise"):
        for item in items:
            print(item.line())
        return
    import json

    rows = [item.as_dict() for item in items]
    if name == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        sys.stdout.write("".join(json.dumps(row) + "\n" for row in rows))


def main(argv: Sequence[str] | None = None) -> int:
    """The command; Ctrl-C at any point ends it with status 130 (files are then old or new, never half
    written, and no worker process is left)."""
    stats.start()  # KEEPREF_LINT_STATS only (stats.py)
    started = time.time_ns()
    words = list(sys.argv[1:] if argv is None else argv)
    stdout, stderr = sys.stdout, sys.stderr
    remember = None
    if stdout is not None and stderr is not None:  # None: an interpreter without a console
        # The output is kept, in order, when this command line may have a memo (memo.py).
        folder = memo.folder_for(words)
        written: list[tuple[int, str]] | None = [] if folder else None
        sys.stdout = SafeStream(stdout, written, 0)  # type: ignore[assignment]
        sys.stderr = SafeStream(stderr, written, 1)  # type: ignore[assignment]
        if written is not None and folder is not None:
            remember = (written, started, folder)
    try:
        try:
            status = _main(words, remember)
            sys.stdout.flush()
            stats.write()
        except KeyboardInterrupt:
            print("keepref-lint: interrupted", file=sys.stderr)
            status = 130
    finally:
        sys.stdout, sys.stderr = stdout, stderr
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


def _main(words: list[str], remember: tuple[list[tuple[int, str]], int, str] | None) -> int:
    """The command of ``words``; ``remember``: the output kept so far, the time the run started and the
    memo's folder, for a memo of this run (memo.py), else None."""
    args = parse_args(words)
    if remember is not None and args.command != "check":  # only a check has a memo
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, SafeStream):
                stream.written = None  # (the language server writes for as long as it runs)
        remember = None
    if args.command == "explain":
        return _explain(args.code)
    if args.command == "suggest":
        return _suggest(args)
    if args.command == "server":
        return _server()
    try:
        stdin_path = _stdin_path(args)
    except ValueError as error:
        print(f"keepref-lint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    buffers: dict[str, bytes] | None = None
    if stdin_path is not None:
        buffers = {stdin_path: sys.stdin.buffer.read()}
        here = stdin_path if os.path.lexists(stdin_path) else os.path.dirname(stdin_path)
    try:
        settings = _settings(args, [here] if buffers else None)
        fixing = args.command == "fix"
        show_progress = not args.quiet and sys.stderr.isatty() and not buffers
        progress = _Progress(fixing, _unkept(sys.stderr)) if show_progress else None
        try:
            result = run(
                [] if buffers else args.paths,
                settings,
                fix=fixing,
                write=fixing and not args.diff and not buffers,
                progress=progress,
                jobs=args.jobs,
                buffers=buffers,
            )
        finally:
            if progress is not None:
                progress.close()
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
        if buffers is not None:
            return _fix_stdin(args, result, next(iter(buffers.values())))
        return _fix(args, result)
    status = _check(args, result)
    if remember is not None and not args.add_noqa and not buffers and settings.cache:
        # Only where the next identical command will look for it (it reads no configuration).
        output, started, folder = remember
        if folder == cache_folder(settings):
            places = [settings.root, os.getcwd(), *map(os.path.abspath, args.paths)]
            if args.config:
                places.append(os.path.abspath(args.config))
            memo.store(words, folder, result, places, output, status, started_ns=started)
    return status


def _unkept(stream: Any) -> Any:
    return stream.unkept() if isinstance(stream, SafeStream) else stream


def console() -> NoReturn:
    """The installed command before it moved to console.py: a script written by an earlier install
    (an editable one that was not reinstalled) still names this."""
    from keepref_lint.console import console as installed

    installed()
