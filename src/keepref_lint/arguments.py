"""The command line: what each command accepts, read by argparse or, in the common case, directly.

argparse (with ``re`` and ``gettext`` below it) is a sixth of a warm run's time. A command line made only
of the options below in their plain spellings (``--name``, ``--name value``, ``--name=value``, ``-q``,
``-j N``), with the paths in one run, is read by ``quick_parse`` into the namespace argparse would build.
Anything else (help, ``--version``, an abbreviation, joined short options, a mistake) goes to argparse, which
reads it or says what is wrong in its usual words. tests/test_arguments.py checks that both readings agree.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from types import SimpleNamespace
else:  # as ``types`` itself defines it, without importing ``types`` on every run
    SimpleNamespace = type(sys.implementation)

FORMATS = (
    "text",
    "concise",
    "full",
    "json",
    "json-lines",
    "sarif",
    "github",
    "gitlab",
    "junit",
    "pylint",
)


def split_codes(text: str) -> list[str]:
    """``KR001,KR002`` or ``KR001 KR002`` -> ``["KR001", "KR002"]``."""
    return [part for part in text.replace(",", " ").split() if part]


class Option:
    """One option of a command: how argparse declares it, and all ``quick_parse`` needs to read it."""

    __slots__ = ("choices", "convert", "default", "dest", "flags", "help", "kind", "metavar")

    def __init__(
        self,
        flags: tuple[str, ...],
        help: str,
        *,
        kind: str = "value",  # "value" (the last one given counts), "append" or "flag"
        convert: Callable[[str], object] | None = None,
        choices: tuple[str, ...] | None = None,
        default: object = None,
        metavar: str | None = None,
    ) -> None:
        self.flags = flags
        self.help = help
        self.kind = kind
        self.convert = convert
        self.choices = choices
        self.default = default
        self.metavar = metavar
        # As argparse names it: after the first long flag (``--format`` of ``--format/--output-format``).
        first_long = next((flag for flag in flags if flag.startswith("--")), flags[-1])
        self.dest = first_long.lstrip("-").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        if self.kind == "flag":
            parser.add_argument(*self.flags, action="store_true", help=self.help)
            return
        parser.add_argument(
            *self.flags,
            action="append" if self.kind == "append" else "store",
            type=self.convert,
            choices=self.choices,
            default=self.initial(),
            metavar=self.metavar,
            help=self.help,
        )

    def initial(self) -> object:
        if self.kind == "flag":
            return False
        return [] if self.kind == "append" else self.default


PATHS_HELP = "files or folders (default: .); - reads one file from standard input"
COMMON = (
    Option(
        ("--format", "--output-format"),
        "output format (text is concise)",
        choices=FORMATS,
        default="text",
    ),
    Option(
        ("--must-retain",),
        "treat this qualified name as must-retain (repeatable), e.g. pkg.mod.func:server",
        kind="append",
        metavar="QUALNAME[:ATTR]",
    ),
    Option(
        ("--decorator",),
        "another decorator name that marks must-retain definitions (repeatable)",
        kind="append",
        metavar="NAME",
    ),
    Option(("--config",), "read [tool.keepref-lint] from this pyproject.toml", metavar="FILE"),
    Option(("--select",), "codes or prefixes to report", convert=split_codes, metavar="CODES"),
    Option(("--ignore",), "codes or prefixes to skip", convert=split_codes, metavar="CODES"),
    Option(
        ("--extend-select",),
        "codes or prefixes to report in addition to those selected (repeatable)",
        kind="append",
        convert=split_codes,
        metavar="CODES",
    ),
    Option(
        ("--extend-ignore",),
        "codes or prefixes to skip in addition to those ignored (repeatable)",
        kind="append",
        convert=split_codes,
        metavar="CODES",
    ),
    Option(("--exclude",), "exclude paths (glob, repeatable)", kind="append", metavar="PATTERN"),
    Option(
        ("--no-respect-gitignore",),
        "check files that .gitignore (and git's other exclude files) ignore",
        kind="flag",
    ),
    Option(
        ("--force-exclude",),
        "apply the exclusions (and .gitignore) to files named on the command line too",
        kind="flag",
    ),
    Option(("-j", "--jobs"), "processes to use (default: all cores)", convert=int, metavar="N"),
    Option(("--no-catalog",), "leave out the built-in catalog of APIs", kind="flag"),
    Option(("--no-cache",), "neither read nor write the cache", kind="flag"),
    Option(("--cache-dir",), "cache folder (default: <root>/.keepref-cache)", metavar="DIR"),
    Option(("-q", "--quiet"), "print findings only, no summary", kind="flag"),
    Option(("--debug",), "show tracebacks for internal errors", kind="flag"),
)
STDIN_FILENAME = Option(
    ("--stdin-filename",),
    "read the file's text from standard input (path -) and report it as PATH, which the index"
    " then reads from standard input too",
    metavar="PATH",
)
# What check and fix both add: ruff's reporting options.
REPORTING = (
    Option(("--exit-zero",), "exit 0 even when there are findings", kind="flag"),
    Option(("--statistics",), "print the number of findings per code instead", kind="flag"),
    Option(("--show-fixes",), "list the findings fixed (or fixable), by file", kind="flag"),
)
# The commands that take paths: their help and the options they add to COMMON.
COMMANDS: dict[str, tuple[str, tuple[Option, ...]]] = {
    "check": (
        "report dropped must-retain results",
        (
            *REPORTING,
            Option(
                ("--add-noqa",),
                "add '# noqa: KRxxx' to every line with a finding, and write nothing else",
                kind="flag",
            ),
            STDIN_FILENAME,
        ),
    ),
    "fix": (
        "rewrite drops to keep a reference",
        (
            Option(("--diff",), "print a unified diff and write nothing", kind="flag"),
            *REPORTING,
            STDIN_FILENAME,
        ),
    ),
    "suggest": (
        "list functions inferred must-retain that are not marked",
        (Option(("--apply",), "add @must_retain (and its import) to them", kind="flag"),),
    ),
}


def quick_parse(argv: Sequence[str]) -> SimpleNamespace | None:
    """What argparse would make of ``argv``, when it is a plain command line; None when argparse must
    read it (it may then print help or an error and exit)."""
    if not argv or argv[0] not in COMMANDS:
        return None
    options = (*COMMON, *COMMANDS[argv[0]][1])
    by_flag = {flag: option for option in options for flag in option.flags}
    values = {option.dest: option.initial() for option in options}
    paths: list[str] = []
    positionals = "before"  # argparse takes the paths as one run: "before", "in", then "after" it
    words = iter(argv[1:])
    for word in words:
        if not word.startswith("-"):
            if positionals == "after":
                return None  # a second run of paths: argparse calls them unrecognized
            positionals = "in"
            paths.append(word)
            continue
        if positionals == "in":
            positionals = "after"
        flag, given, value = word.partition("=") if word.startswith("--") else (word, "", "")
        option = by_flag.get(flag)
        if option is None:
            return None
        if option.kind == "flag":
            if given:
                return None
            values[option.dest] = True
            continue
        if not given:
            value = next(words, "-")
            if value.startswith("-"):
                return None  # missing, or something argparse may take for an option
        try:
            converted = option.convert(value) if option.convert is not None else value
        except (TypeError, ValueError):
            return None
        if option.choices is not None and converted not in option.choices:
            return None
        if option.kind == "append":
            values[option.dest].append(converted)  # type: ignore[attr-defined]
        else:
            values[option.dest] = converted
    return SimpleNamespace(command=argv[0], paths=paths or ["."], **values)


def _formatter_class() -> type:
    import argparse

    class Formatter(argparse.HelpFormatter):
        """argparse's formatter with the terminal width found without ``shutil`` (argparse builds one
        for every option it adds, and importing ``shutil`` is slow)."""

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

    return Formatter


def build_parser() -> argparse.ArgumentParser:
    import argparse

    from keepref_lint import __version__

    formatter = _formatter_class()
    parser = argparse.ArgumentParser(
        prog="keepref-lint",
        formatter_class=formatter,
        description="Find and fix dropped lifetime-critical return values.",
    )
    parser.add_argument("--version", action="version", version=f"keepref-lint {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, extra) in COMMANDS.items():
        command = commands.add_parser(name, help=help_text, formatter_class=formatter)
        command.add_argument("paths", nargs="*", default=["."], help=PATHS_HELP)
        for option in (*COMMON, *extra):
            option.add_to(command)
    explain = commands.add_parser(
        "explain", help="print the documentation of a rule", formatter_class=formatter
    )
    explain.add_argument("code", help="a rule code such as KR001")
    commands.add_parser(
        "server",
        help="run the language server on standard input and output (needs keepref-lint[server])",
        formatter_class=formatter,
    )
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace | SimpleNamespace:
    """The command line read as argparse reads it (quickly when it is a plain one)."""
    quick = quick_parse(argv)
    return quick if quick is not None else build_parser().parse_args(argv)
