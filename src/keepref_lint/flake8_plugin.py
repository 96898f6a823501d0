"""flake8 adapter: the same engine, reporting KR codes through flake8.

flake8 applies ``# noqa``, ``--select``/``--ignore`` and its own output formats; this adapter only runs
the engine on the tree flake8 already parsed. The project index is built (or loaded from the on-disk cache)
once in flake8's main process while options are parsed, so forked ``-j`` workers inherit it, and workers
started any other way load the same cache entry. Autofix is not offered through flake8: use
``keepref-lint fix``.

Editors run ``flake8 --stdin-display-name PATH -`` with an unsaved buffer: a text that is not the file on
disk is checked as the buffer it is, with a project whose index reads it for PATH's module, and each
file's stored findings are keyed by the text analysed, never by the file's stat.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from typing import Any

from keepref_lint import __version__
from keepref_lint.config import ConfigError, Settings, load_settings, with_overrides


class KeeprefChecker:
    name = "keepref-lint"
    version = __version__

    _must_retain: tuple[str, ...] = ()
    _decorators: tuple[str, ...] = ()
    _config: str | None = None

    def __init__(self, tree: ast.Module, filename: str, lines: list[str]) -> None:
        self.tree = tree
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, parser: Any) -> None:
        parser.add_option(
            "--must-retain",
            default="",
            parse_from_config=True,
            comma_separated_list=True,
            help="qualified names (QUALNAME[:ATTR]) whose results must be kept (keepref-lint)",
        )
        parser.add_option(
            "--must-retain-decorators",
            default="",
            parse_from_config=True,
            comma_separated_list=True,
            help="further decorator names that mark must-retain definitions (keepref-lint)",
        )
        parser.add_option(
            "--keepref-config",
            default=None,
            parse_from_config=True,
            help="pyproject.toml to read [tool.keepref-lint] from (keepref-lint)",
        )

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls._must_retain = tuple(options.must_retain or ())
        cls._decorators = tuple(options.must_retain_decorators or ())
        cls._config = options.keepref_config
        given = getattr(options, "filenames", None) or ["."]
        filenames = [f for f in given if f != "-"]
        # Build or load the index before flake8 starts its workers, so that they share it (standard
        # input alone is one file in this process, and its project may hold its text: see run).
        if filenames:
            project_for(filenames)

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        text = "".join(self.lines)
        path = os.path.abspath(self.filename) if self.filename not in ("-", "stdin") else None
        if path is not None and not _same_as_disk(path, text):
            # An editor's buffer (``--stdin-display-name PATH -``): it is checked, and indexed for its
            # module, in place of the file on disk.
            from keepref_lint.sourcetext import encoded

            project = buffer_project(path, encoded(text))
        else:
            project = project_for([path or "."])
        cache = _FileCache.for_project(project, path, text)
        findings = cache.load() if cache else None
        if findings is None:
            file = project.source_for_flake8(path, self.filename, self.lines)
            findings = project.check_tree_unfiltered(file, self.tree)
            if cache:
                cache.store(findings)
        for finding in findings:
            yield finding.line, finding.column - 1, f"{finding.code} {finding.message}", type(self)


def _normalized(text: str) -> str:
    """A text as flake8 holds it: universal newlines, no byte-order mark."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text[1:] if text.startswith("\ufeff") else text


def _same_as_disk(path: str, text: str) -> bool:
    """Is ``text`` (what flake8 parsed) the file at ``path`` (flake8 read it from disk), rather than
    another text given for that name on standard input? When unsure, no: the text given is checked."""
    from keepref_lint.project import InputError
    from keepref_lint.sourcetext import SourceText

    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if data == text.encode("utf-8", "surrogatepass"):
            return True  # the common case: UTF-8 with plain newlines, settled without decoding
        on_disk = SourceText(data, path).text
    except (OSError, InputError, UnicodeError):
        return False
    return _normalized(on_disk) == _normalized(text)


class _FileCache:
    """One file's findings, reused while neither the text analysed nor the project's state changed
    (flake8 runs again and again over the same tree in CI and pre-commit; the analysis of a large
    candidate file is the cost). The key is a content hash of the text flake8 gave, not the file's
    stat: an editor's buffer on standard input and the file on disk never see each other's results."""

    def __init__(self, entry: str, key: tuple) -> None:
        self.entry = entry
        self.key = key

    @classmethod
    def for_project(cls, project: Any, path: str | None, text: str) -> _FileCache | None:
        import zlib
        from hashlib import blake2b

        from keepref_lint.cache import cache_folder

        if path is None or not project.settings.cache:
            return None
        folder = os.path.join(cache_folder(project.settings), "flake8")
        key = (
            __version__,
            project.settings.fingerprint(),
            project.index.token,  # the project's state: the index build (and any buffers in it)
            path,
            blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest(),
        )
        return cls(os.path.join(folder, f"{zlib.crc32(path.encode()):08x}.pickle"), key)

    def load(self) -> list | None:
        from keepref_lint.entries import read_pickle

        stored = read_pickle(self.entry)
        if not isinstance(stored, tuple) or len(stored) != 2 or stored[0] != self.key:
            return None
        return stored[1]

    def store(self, findings: list) -> None:
        from keepref_lint.entries import write_pickle

        write_pickle(self.entry, (self.key, findings))


def _settings(paths: list[str]) -> Settings:
    try:
        settings = load_settings(paths, KeeprefChecker._config)
        return with_overrides(
            settings,
            must_retain=KeeprefChecker._must_retain,
            decorators=KeeprefChecker._decorators,
        )
    except ConfigError as error:
        raise SystemExit(f"keepref-lint: error: {error}") from None


_settings_by_folder: dict[str, Settings] = {}


def _settings_for(paths: list[str]) -> Settings:
    if len(paths) != 1:
        return _settings(paths)
    # One call per checked file: the folder decides the settings.
    folder = os.path.dirname(paths[0]) if not os.path.isdir(paths[0]) else paths[0]
    settings = _settings_by_folder.get(folder)
    if settings is None:
        settings = _settings_by_folder[folder] = _settings([folder])
    return settings


def buffer_project(path: str, data: bytes) -> Any:
    """The project of ``path`` with ``data`` in place of the file (an unsaved buffer), built or loaded
    once per text in this process."""
    from keepref_lint.analysis import Project

    settings = _settings_for([path])
    key = (settings.root, settings.fingerprint(), path, data)
    project = _buffer_projects.get(key)
    if project is None:
        _buffer_projects.clear()  # one flake8 run checks standard input once
        project = _buffer_projects[key] = Project(settings, buffers={path: data})
    return project


_buffer_projects: dict[tuple, Any] = {}


def project_for(paths: list[str]) -> Any:
    from keepref_lint.analysis import Project

    return Project.shared(_settings_for(paths))
