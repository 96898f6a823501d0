"""The project-wide index: what is must-retain, and every name through which it can be reached.

Only files whose text can matter are parsed: files that mention a marker decorator, then (repeatedly, until
nothing new turns up) files that mention a name of something must-retain or an alias of one. From those the
index keeps module-level imports and aliases (re-exports such as ``from .service import start_service`` in an
``__init__.py``, or ``start = start_service``), star imports, class bases, and the marked definitions.
"""

from __future__ import annotations

import ast
import keyword as keyword_module
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from keepref_lint.catalog import CATALOG, ENTRIES
from keepref_lint.config import Settings
from keepref_lint.project import InputError, SourceFile, too_deep
from keepref_lint.receivers import (
    ReceiverTypes,
    build_receiver_types,
    file_facts,
    method_names,
    module_of,
    questions_of,
)
from keepref_lint.resolve import (
    ASSIGN,
    FileScopes,
    Scope,
    dotted_name,
    import_bindings,
    last_name,
    resolve_relative,
)
from keepref_lint.shapes import drop_shaped as _drop_shaped
from keepref_lint.sourcetext import parse_quietly

_STAR_IMPORT = re.compile(rb"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+\*", re.MULTILINE)
_WORD = re.compile(rb"[0-9A-Za-z_\x80-\xff]+")  # what ``occurrences`` counts as a word
_AS_ALIAS = re.compile(rb"\b(\w+)[ \t]+as[ \t]+(\w+)")
_CATALOG_ROOTS = frozenset(q.partition(".")[0] for entry in CATALOG for q in entry.qualnames)


@dataclass(frozen=True)
class Mark:
    """Something whose call result must be kept."""

    qualname: str
    kind: str  # function | method | class | unknown (from config)
    source: str  # decorator | config
    attr: str | None = None
    reason: str | None = None
    is_async: bool = False
    location: str | None = None  # "path:line" of the marked definition
    entry: str | None = None  # the catalog entry, for source == "catalog"
    returns: Mark | None = None  # for source == "inferred": the must-retain call it returns
    path: str | None = None  # absolute path of the definition (decorator and inferred marks)
    line: int = 0  # line of its ``def``

    @property
    def chain(self) -> list[Mark]:
        """This mark, then what it returns, down to the marked, configured or catalogued callable."""
        marks, mark = [self], self
        while mark.returns is not None:
            mark = mark.returns
            marks.append(mark)
        return marks

    @property
    def short_name(self) -> str:
        return self.qualname.rpartition(".")[2]


def bounded_chain(steps: list[str], ends: int = 2) -> list[str]:
    """A long chain of wrappers as its first steps, a count, and its last step (one line stays short)."""
    if len(steps) <= 2 * ends:
        return steps
    return [*steps[:ends], f"... ({len(steps) - ends - 1:,} more)", steps[-1]]


@dataclass
class ClassInfo:
    bases: list[str]
    names: set[str]


@dataclass
class ModuleSummary:
    module: str
    bindings: dict[str, list[str]] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    marks: list[Mark] = field(default_factory=list)
    # ("path:line", cause) of each marker argument that was left out as invalid
    problems: list[tuple[str, str]] = field(default_factory=list)
    defined: set[str] = field(
        default_factory=set
    )  # module-level functions, classes and assigned names


class ParseCache:
    """``ast`` trees (and their scope analyses) by path, made once per run; parse failures become
    InputErrors."""

    def __init__(self) -> None:
        self.trees: dict[str, ast.Module] = {}
        self.errors: dict[str, InputError] = {}
        self._scopes: dict[str, FileScopes] = {}
        self._kept = 0

    def scopes(self, file: SourceFile) -> FileScopes | None:
        """The file's scope analysis; hand it back with ``done`` (or ``discard``) when finished."""
        key = file.path
        scopes = self._scopes.get(key)
        if scopes is None:
            tree = self.parse(file)
            if tree is None:
                return None
            try:
                scopes = FileScopes(tree, file.module, file.is_package)
            except RecursionError:
                self.errors[key] = too_deep(file.display)
                self.discard(file)
                return None
            self._scopes[key] = scopes
        return scopes

    def _close_scopes(self, key: str) -> None:
        scopes = self._scopes.pop(key, None)
        if scopes is not None:
            scopes.close()

    def done(self, file: SourceFile) -> None:
        """Keep the file's analysis for reuse if its tree is kept (within the budget), else free it."""
        key = file.path
        if key not in self.trees:
            self._close_scopes(key)

    def discard(self, file: SourceFile) -> None:
        self._close_scopes(file.path)
        if self.trees.pop(file.path, None) is not None:
            self._kept -= len(file.data)

    def forget(self, file: SourceFile) -> ast.Module:
        """Hand over the file's tree (the fixer mutates it while verifying) and drop what depends on it."""
        tree = self.trees.get(file.path)
        self.discard(file)
        return tree if tree is not None else parse_source(file)

    # Trees take ~20 times the memory of their source: keep them for reuse only up to this much source,
    # so that marking something common (builtins.print) does not hold thousands of trees at once.
    KEEP_SOURCE_BYTES = 5_000_000

    def parse(self, file: SourceFile) -> ast.Module | None:
        key = file.path
        tree = self.trees.get(key)
        if tree is not None or key in self.errors:
            return tree
        try:
            tree = parse_source(file)
        except InputError as error:
            self.errors[key] = error
            return None
        if self._kept + len(file.data) <= self.KEEP_SOURCE_BYTES:
            self.trees[key] = tree
            self._kept += len(file.data)
        return tree


def parse_source(file: SourceFile) -> ast.Module:
    if b"\0" in file.data:
        raise InputError(
            file.display, "cannot parse: contains NUL bytes (not a Python source file?)"
        )
    try:
        return parse_quietly(file.data, file.display)
    except SyntaxError as exc:
        message = exc.msg or "invalid syntax"
        if "unicode error" in message or "decode" in message or "utf-8" in message.lower():
            raise InputError(file.display, f"cannot decode: {message}") from None
        where = f" at line {exc.lineno}" if exc.lineno else ""
        raise InputError(file.display, f"syntax error{where}: {message}") from None
    except ValueError as exc:  # NUL bytes
        text = str(exc)
        if "null bytes" in text:
            text = "contains NUL bytes (not a Python source file?)"
        raise InputError(file.display, f"cannot parse: {text}") from None
    except (MemoryError, RecursionError) as exc:
        raise InputError(file.display, f"cannot parse: {type(exc).__name__}") from None


class Prefilter:
    """Can a file's text contain a call of something must-retain? (A file that says no is never parsed.)

    A file must mention, as a whole word, the last name of a project or configured must-retain callable or
    an alias of one. For catalog entries, whose last names are common words (``server``, ``ref``,
    ``Pool``), it must also mention a guard in its import statements: the entry's top-level module
    (``grpc``), or for a project module that re-exports one, that module's own name (or the file must be
    part of that module); and the name must stand where a drop can (a call starting a statement or a
    plain-name assignment). With ``reexports_only`` (the index's closure) a name must instead stand where
    a module passes it on: a ``from ... import``, an alias (``start = start_service``,
    ``start = mod.start_service``) or a class's bases. The tests look at the line around each occurrence.
    """

    def __init__(
        self,
        plain: set[str],
        guarded: dict[str, set[str]],
        reexports_only: bool = False,
        local: dict[str, set[str]] | None = None,
        bound: dict[str, set[str]] | None = None,
        owners: dict[str, set[str]] | None = None,
    ) -> None:
        self.plain = frozenset(plain)
        self.guarded = {guard: frozenset(names) for guard, names in guarded.items()}
        self.reexports_only = reexports_only
        # Functions defined inside functions can be called only from their own file: path -> names.
        self.local = {path: frozenset(names) for path, names in (local or {}).items()}
        # Module-level things (functions, classes, their re-exports) -> the last names of the modules
        # that define or re-export them: a file reaches one only through what it binds (see _bound).
        self.bound = {name: frozenset(homes) for name, homes in (bound or {}).items()}
        # Methods -> the names of their classes, of subclasses and of aliases of either: the resolver
        # reaches a method only through one of them (``self`` in such a class, ``Cls.method``), so a
        # file that mentions none of them does not call it, whatever its ``x.start()`` calls are.
        self.owners = {name: frozenset(names) for name, names in (owners or {}).items()}

    def _local_word(self, data: bytes, path: str) -> bool:
        names = self.local.get(path, ())
        return any(True for name in names for _ in occurrences(data, name))

    def _plain_word(self, data: bytes, path: str = "") -> bool:
        bound = self.bound
        imports: bytes | None = None
        owners = self.owners
        for name in self.plain:
            if name in owners and not any(
                True for owner in owners[name] for _ in occurrences(data, owner)
            ):
                continue
            for at in occurrences(data, name):
                if name not in bound:
                    return True
                if imports is None:
                    imports = import_lines(data)
                if _bound(data, at, name, imports, bound[name], path):
                    return True
        return False

    def _guarded_here(self, data: bytes, path: str) -> list[frozenset[str]]:
        """The guarded names whose guard the file imports (or whose package it belongs to)."""
        if not self.guarded:
            return []
        imports = import_lines(data)
        return [
            names
            for guard, names in self.guarded.items()
            if guard.encode() in imports or within_package(path, guard)
        ]

    def __call__(self, data: bytes, path: str = "") -> bool:
        if self._local_word(data, path):
            return True
        if self.reexports_only:
            # A module passes a name on by importing or aliasing it, or names a class as a base.
            if any(passes_on(data, at, n) for n in self.plain for at in occurrences(data, n)):
                return True
        elif self._plain_word(data, path):
            return True
        shaped = passes_on if self.reexports_only else drop_shaped
        return any(
            shaped(data, at, name)
            for names in self._guarded_here(data, path)
            for name in names
            for at in occurrences(data, name)
        )

    def drop_offsets(self, data: bytes, path: str = "") -> list[tuple[int, str]] | None:
        """Where a guarded name stands as a possible drop; None when a plain word occurs (its calls can
        hide behind local aliases, so only a whole-file analysis can tell)."""
        if self._local_word(data, path) or self._plain_word(data, path):
            return None
        return [
            (at, name)
            for names in self._guarded_here(data, path)
            for name in names
            for at in occurrences(data, name)
            if drop_shaped(data, at, name)
        ]

    def mentions(self, data: bytes, path: str = "") -> bool:
        """The word-level test of ``candidates`` for one text."""
        if self._local_word(data, path) or any(n.encode() in data for n in self.plain):
            return True
        return any(n.encode() in data for names in self._guarded_here(data, path) for n in names)

    def key(self) -> tuple:
        return (
            self.plain,
            tuple(sorted((n, tuple(sorted(h))) for n, h in self.bound.items())),
            tuple(sorted((n, tuple(sorted(o))) for n, o in self.owners.items())),
            tuple(sorted((g, tuple(sorted(n))) for g, n in self.guarded.items())),
            tuple(sorted((p, tuple(sorted(n))) for p, n in self.local.items())),
        )

    def candidates(self, corpus: Corpus) -> set[int]:
        """Indices of the corpus's files that contain the words (before the exact test of __call__)."""
        found: set[int] = set()
        for word in self.plain:
            found |= corpus.files_with(word)
        for path, names in self.local.items():
            index = corpus.position.get(path)
            if index is not None and any(n.encode() in corpus.texts[index] for n in names):
                found.add(index)
        for guard, names in self.guarded.items():
            within = corpus.files_importing(guard)
            for name in names:
                found |= corpus.files_with(name, within)
        return found


class Corpus:
    """Many files' texts, and which of them contain a word (memoized: each word is scanned for once).

    The scan is ``bytes.__contains__`` per file, at C speed. A guard (a module name) is looked for in the
    files' import statements only (``import_lines``), a twentieth of the text; a guarded name only in the
    files that import its guard.
    """

    def __init__(self, texts: list[bytes], paths: list[str] | None = None) -> None:
        self.texts = texts
        self.position = {path: i for i, path in enumerate(paths or ())}
        self._imports: list[bytes] | None = None
        self._paths: str | None = None  # every path, one per line
        self._memo: dict[str, set[int]] = {}
        self._partial: dict[str, dict[int, bool]] = {}
        self._import_memo: dict[str, set[int]] = {}
        self._words: dict[bytes, set[int]] | None = None  # word -> files (see WORD_INDEX_AFTER)

    # After this many words, one pass that splits every text into words answers the rest (a project
    # with thousands of must-retain names, such as a long chain of wrappers, would otherwise scan its
    # texts once per name). Splitting costs a few dozen scans, so no tree pays more than a few percent.
    WORD_INDEX_AFTER = 1000

    def files_with(self, word: str, within: set[int] | None = None) -> set[int]:
        """The files whose text contains ``word`` (among ``within`` when given); once the word index
        is built, those where it stands as a whole word (all that the exact tests accept)."""
        found = self._memo.get(word)
        if found is None and self._words is None:
            if len(self._memo) + len(self._partial) >= self.WORD_INDEX_AFTER:
                self._words = {}
                for i, text in enumerate(self.texts):
                    for token in set(_WORD.findall(text)):
                        self._words.setdefault(token, set()).add(i)
        if found is None and self._words is not None:
            found = self._memo[word] = self._words.get(word.encode(), set())
        if found is not None:
            return found if within is None else found & within
        needle = word.encode()
        if within is None:
            found = self._memo[word] = {i for i, text in enumerate(self.texts) if needle in text}
            return found
        known = self._partial.setdefault(word, {})
        texts = self.texts
        for i in within:
            if i not in known:
                known[i] = needle in texts[i]
        return {i for i in within if known[i]}

    def files_importing(self, word: str) -> set[int]:
        """The files whose import statements contain ``word``."""
        found = self._import_memo.get(word)
        if found is None:
            if self._imports is None:
                self._imports = [import_lines(text) for text in self.texts]
            needle = word.encode()
            found = self._import_memo[word] = {
                i for i, text in enumerate(self._imports) if needle in text
            }
            if self._paths is None:
                self._paths = "\n".join(self.position)
            if f"{os.sep}{word}" in self._paths:  # some file may be the module itself
                found.update(i for path, i in self.position.items() if within_package(path, word))
        return found


def within_package(path: str, guard: str) -> bool:
    """Is the file part of the module or package named ``guard`` (the catalog's own modules, which name
    their entries without importing themselves)?"""
    return path.endswith(f"{os.sep}{guard}.py") or f"{os.sep}{guard}{os.sep}" in path


def import_lines(data: bytes) -> bytes:
    """The lines of ``data`` that mention ``import``, each with its continuation: up to the closing
    bracket of a ``from x import (...)`` and across backslashes. Whatever names a module that the file
    can use stands here (``import m``, ``from p import m``, ``importlib.import_module("m")``)."""
    parts: list[bytes] = []
    at = data.find(b"import")
    while at != -1:
        start = data.rfind(b"\n", 0, at) + 1
        end = data.find(b"\n", at)
        if end == -1:
            end = len(data)
        opening = data.find(b"(", at, end)
        if opening != -1 and data.find(b")", opening, end) == -1:
            closing = data.find(b")", end)
            end = len(data) if closing == -1 else closing
        while end < len(data) and data.endswith((b"\\", b"\\\r"), 0, end):
            following = data.find(b"\n", end + 1)
            end = len(data) if following == -1 else following
        parts.append(data[start:end])
        at = data.find(b"import", end)
    return b"\n".join(parts)


def _loads(node: ast.AST | None, name: str) -> int:
    """How many times ``name`` is read in ``node``."""
    if node is None:
        return 0
    return sum(
        1
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
    )


_TOP_LEVEL = re.compile(rb"(?:from|import)[ \t]|class[ \t]|[A-Za-z_]\w*[ \t]*(?::[^=\n]*)?=(?!=)")


def module_skeleton(data: bytes) -> bytes:
    """The module's top-level imports, assignments and class headers (bodies become ``...``).

    A re-export is a top-level statement, so this is all the alias closure needs from a file that only a
    catalog name brought in, at a fraction of the cost of parsing the whole file. Lines of a statement
    continue while brackets are open (strings and backslash continuations are not tracked: a skeleton that
    does not parse falls back to the whole file).
    """
    kept: list[bytes] = []
    depth = 0
    keeping = False
    encoding_lines = data.split(b"\n", 2)[:2]
    for line in encoding_lines:
        if line.startswith(b"#") and b"coding" in line:
            kept.append(line)
    for line in data.split(b"\n"):
        if depth == 0:
            keeping = bool(_TOP_LEVEL.match(line))
            is_class = line.startswith(b"class")
        if keeping:
            kept.append(line)
            depth += sum(line.count(c) for c in b"([{") - sum(line.count(c) for c in b")]}")
            depth = max(depth, 0)
            if depth == 0 and is_class:
                kept.append(b"    ...")
                keeping = False
    return b"\n".join(kept) + b"\n"


def _is_word_byte(byte: int) -> bool:
    return byte == 95 or byte >= 128 or 48 <= byte <= 57 or 65 <= byte <= 90 or 97 <= byte <= 122


def occurrences(data: bytes, name: str) -> Iterator[int]:
    """Offsets where ``name`` stands as a whole word."""
    needle, size = name.encode(), len(name)
    at = data.find(needle)
    while at != -1:
        end = at + size
        if (at == 0 or not _is_word_byte(data[at - 1])) and (
            end == len(data) or not _is_word_byte(data[end])
        ):
            yield at
        at = data.find(needle, end)


def _line_before(data: bytes, at: int) -> bytes:
    return data[data.rfind(b"\n", 0, at) + 1 : at]


_RETURN_PREFIX = re.compile(rb".*\breturn[ \t]+(?:await[ \t]+)?[\w.]*\Z")
_RETURNED = re.compile(rb".*\breturn[ \t]+\Z")
_LOCAL_PREFIX = re.compile(rb"[ \t]*(\w+)[ \t]*(?::[^=]*)?=[ \t]*(?:await[ \t]+)?[\w.]*\Z")
_IMPORT_PREFIX = re.compile(
    rb"[ \t]*from[ \t]+[\w.]+[ \t]+import[ \t]+.*\Z|[ \t]*\w+[ \t]*=[ \t]*[\w.]+\.\Z"
)
_CALL_AFTER = re.compile(rb"[ \t]*\(")


def _called(data: bytes, at: int, name: str) -> bool:
    return _CALL_AFTER.match(data, at + len(name)) is not None


def drop_shaped(data: bytes, at: int, name: str) -> bool:
    """Is the occurrence a call where a drop can stand? See ``shapes.drop_shaped``: statement starts
    after ``;``, ``:`` and backslash continuations, receiver chains with calls, displays, operands,
    conditions, ``image=`` arguments and attributes of a fresh result. Catalog names are never async,
    so an awaited call (which consumes the result) is not one."""
    return _drop_shaped(data, at, name)


def reexport_shaped(data: bytes, at: int, name: str) -> bool:
    """Is the occurrence in a ``from ... import`` (one line or a parenthesized block) or an alias?"""
    line = _line_before(data, at)
    if _IMPORT_PREFIX.match(line):
        return True
    if line.strip(b" \t,") == b"" or line.rstrip().endswith(
        b","
    ):  # inside ``from x import (\n a,\n b)``?
        opening = data.rfind(b"(", 0, at)
        if opening != -1 and b")" not in data[opening:at]:
            return _IMPORT_PREFIX.match(_line_before(data, opening)) is not None
    return False


_ALIAS_PREFIX = re.compile(rb"[ \t]*\w+[ \t]*(?::[^=]*)?=[ \t]*[\w.]*\Z")
_ALIAS_END = re.compile(rb"[ \t]*(?:#[^\n]*)?(?:\r?\n|;|\Z)")
_CLASS_PREFIX = re.compile(rb"[ \t]*class[ \t]+\w+[ \t]*\(.*\Z")
_CLASS_OPENING = re.compile(rb"[ \t]*class[ \t]+\w+[ \t]*\Z")


def passes_on(data: bytes, at: int, name: str) -> bool:
    """Is the occurrence a re-export, an alias (``start = start_service``) or in a class's bases?"""
    if reexport_shaped(data, at, name):
        return True
    line = _line_before(data, at)
    if _CLASS_PREFIX.match(line):
        return True
    if _ALIAS_PREFIX.match(line) and _ALIAS_END.match(data, at + len(name)):
        return True
    opening = data.rfind(b"(", 0, at)  # bases over several lines
    if opening != -1 and b")" not in data[opening:at]:
        return _CLASS_OPENING.match(_line_before(data, opening)) is not None
    return False


_CHAIN_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")


def _bound(
    data: bytes, at: int, name: str, imports: bytes, homes: frozenset[str], path: str
) -> bool:
    """Could this occurrence of a module-level thing's name reach it? An attribute (``x.y.name``) only
    when the chain starts at a name the file's import statements mention (a module: ``thread.start()``
    on a local is not ``worker.start()`` after ``from . import worker``); a plain name only when the
    file imports it, star-imports, or may be one of the modules that define or re-export it."""
    if at > 0 and data[at - 1] == 46:  # "."
        start = at - 1
        while start > 0 and data[start - 1] in _CHAIN_BYTES:
            start -= 1
        chain = data[start : at - 1]
        head = chain.partition(b".")[0]
        if not head or not (head[0] == 95 or 65 <= head[0] <= 90 or 97 <= head[0] <= 122):
            return not head  # ``(...).name``: nothing to go by (a call may return a module)
        if any(True for _ in occurrences(imports, head.decode("ascii", "replace"))):
            return True
        # ``w = worker`` or ``self.w = worker`` (a module kept under another name) then ``w.name()``
        return any(
            re.search(
                rb"(?:^|[\s.])"
                + re.escape(part)
                + rb"[ \t]*(?::[^=\n]*)?=[ \t]*[A-Za-z_][\w.]*[ \t]*(?:#[^\n]*)?\r?$",
                data,
                re.MULTILINE,
            )
            for part in chain.split(b".")
            if part
        )
    if b"import *" in data or any(True for _ in occurrences(imports, name)):
        return True
    return any(within_package(path, home) for home in homes)


_RETURNS_CLS = re.compile(rb"\breturn[ \t]+cls[ \t]*\(")


def may_return_one(data: bytes, names: Iterable[str]) -> bool:
    """A direct ``return call(...)``, or a local assigned from a call that some ``return`` names, or a
    classmethod factory's ``return cls(...)`` (the class may be must-retain)."""
    if _RETURNS_CLS.search(data):
        return True
    returned: dict[str, bool] = {}
    for name in names:
        for at in occurrences(data, name):
            if not _called(data, at, name):
                continue
            line = _line_before(data, at)
            if _RETURN_PREFIX.match(line):
                return True
            local = _LOCAL_PREFIX.match(line)
            if local:
                target = local.group(1).decode()
                if target not in returned:
                    returned[target] = any(
                        _RETURNED.match(_line_before(data, where))
                        for where in occurrences(data, target)
                    )
                if returned[target]:
                    return True
    return False


def may_annotate_one(data: bytes, names: Iterable[str]) -> bool:
    """Does a return annotation (``-> ... Name``) name one of ``names``?"""
    for name in names:
        for at in occurrences(data, name):
            line = _line_before(data, at)
            if b"->" in line:
                return True
    return False


class ProjectIndex:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.marks: dict[str, Mark] = {}
        self.summaries: dict[str, ModuleSummary] = {}
        self.prefilter = Prefilter(set(), {})
        self._lookup_cache: dict[str, Mark | None] = {}
        self._exports: dict[str, dict[str, list[str]]] = {}  # module -> its star exports
        self._derived: dict[str, set[str]] | None = None  # class or name -> subclasses and aliases
        # The files whose text the index was built from: an edit elsewhere cannot change it (see
        # affected_by), so a cached index survives edits to every other file.
        self.used: set[str] = set()
        # Where the marks found in the project come from (qualname -> path), and how each summarized file
        # was read (path -> as a skeleton): an edited file is read again the same way (see refresh).
        self.defined_in: dict[str, str] = {}
        self.summarized: dict[str, bool] = {}
        self.digests: dict[str, bytes] = {}  # path -> checksum of the text the index stands for
        self.token = os.urandom(8).hex()  # names this build (stored results are valid for it only)
        # Marker decorators: the configured names, and project names bound to a marker under another
        # name (``from .markers import must_retain as own_marker`` makes ``pkg.own_marker`` one).
        self.decorators: set[str] = set(settings.decorators)
        self.markers: set[str] = set()
        self.receiver_types = ReceiverTypes()
        # Where config marks are defined: path -> {qualified name: async def?}.
        self.config_defs: dict[str, dict[str, bool]] = {}
        if settings.catalog:
            for entry in CATALOG:
                if entry.id in settings.catalog_disable:
                    continue
                for qualname in entry.qualnames:
                    self.marks[qualname] = Mark(
                        qualname, "catalog", "catalog", entry.attr, entry.reason, entry=entry.id
                    )
        for spec in settings.must_retain.values():
            self.marks[spec.qualname] = Mark(
                spec.qualname, "unknown", "config", spec.attr, spec.reason
            )

    @property
    def problems(self) -> list[InputError]:
        """One-line errors for marker arguments the index left out (``path:line: cause``)."""
        return [
            InputError(where, cause)
            for _, summary in sorted(self.summaries.items())
            for where, cause in summary.problems
        ]

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        files: list[SourceFile],
        settings: Settings,
        cache: ParseCache,
        corpus: Corpus | None = None,
    ) -> ProjectIndex:
        index = cls(settings)
        index._summarize_marked(files, cache)
        corpus = corpus or Corpus([f.data for f in files], [f.path for f in files])
        while True:
            index._close_over_aliases(files, cache, corpus)
            if not index._infer_wrappers(files, cache, corpus):
                break
        index._canonicalize_config_marks()
        index._config_async(files, cache)
        index.prefilter = index._prefilter()
        known = lambda q: index.lookup(q) is not None  # noqa: E731
        names = method_names((q, m.kind) for q, m in index.marks.items())
        index.receiver_types, read = build_receiver_types(
            files, cache, corpus, names, known, index.prefilter
        )
        index.used |= read
        if index.receiver_types.hits:
            index.prefilter = index._prefilter()
        index.digests = {file.path: file.digest for file in files}
        return index

    def _summarize_marked(self, files: list[SourceFile], cache: ParseCache) -> None:
        """Summarize the files that mention a marker decorator, until no new alias of a marker turns up
        (a module that binds a marker under another name makes that name a marker where it is imported)."""
        while True:
            words = [d.encode() for d in self.decorators]
            for file in files:
                if file.module not in self.summaries and any(d in file.data for d in words):
                    self._summarize(file, cache)
            markers = set(self.markers)
            for module, summary in self.summaries.items():
                for local, targets in summary.bindings.items():
                    if any(
                        t in markers or t.rpartition(".")[2] in self.settings.decorators
                        for t in targets
                    ):
                        markers.add(f"{module}.{local}")
            if markers == self.markers:
                return
            self.markers = markers
            self.decorators |= {m.rpartition(".")[2] for m in markers}
            # Files read before an alias was known are read again with it.
            for path in [p for p in self.summarized if not self.summarized[p]]:
                file = next((f for f in files if f.path == path), None)
                if file is None:
                    continue
                summary = self._read_summary(file, cache, False)
                if summary is not None:
                    self.summaries[file.module] = summary
                    self._add_marks(summary, path)

    def _config_async(self, files: list[SourceFile], cache: ParseCache) -> None:
        """A configured function that is ``async def`` is awaited to give its result: read where each
        config mark is defined (its module, if it is part of the project)."""
        by_module = {file.module: file for file in files}
        found: dict[int, Mark] = {}
        for qualname, mark in list(self.marks.items()):
            if mark.source != "config":
                continue
            module = module_of(qualname, by_module)
            if module is None:
                continue
            file = by_module[module]
            is_async = _defined_async(file, cache, qualname[len(module) + 1 :])
            if is_async is None:
                continue
            self.used.add(file.path)
            self.config_defs.setdefault(file.path, {})[qualname] = is_async
            if is_async:
                found[id(mark)] = replace(mark, is_async=True)
        for qualname, mark in list(self.marks.items()):  # a re-export shares its definition's mark
            if id(mark) in found:
                self.marks[qualname] = found[id(mark)]
        self._forget_lookups()

    def _summarize(self, file: SourceFile, cache: ParseCache, skeleton: bool = False) -> None:
        """Record the module's bindings; ``skeleton`` parses only its top-level imports, assignments
        and class headers (enough to see a re-export), falling back to the whole file."""
        self.used.add(file.path)
        if file.module in self.summaries:
            return
        summary = self._read_summary(file, cache, skeleton)
        if summary is None:
            return
        self.summaries[file.module] = summary
        self.summarized[file.path] = skeleton
        self._forget_lookups()
        self._add_marks(summary, file.path)

    def _read_summary(
        self, file: SourceFile, cache: ParseCache, skeleton: bool
    ) -> ModuleSummary | None:
        tree = None
        if skeleton and b"\0" not in file.data:
            try:
                tree = parse_quietly(module_skeleton(file.data))
            except (SyntaxError, ValueError):
                tree = None
        if tree is None:
            tree = cache.parse(file)
        if tree is None:
            return None
        return summarize_module(tree, file, set(self.settings.decorators), self.markers)

    def _add_marks(self, summary: ModuleSummary, path: str) -> None:
        for mark in summary.marks:
            if self.marks.setdefault(mark.qualname, mark) is mark:
                self.defined_in[mark.qualname] = path

    def _close_over_aliases(
        self, files: list[SourceFile], cache: ParseCache, corpus: Corpus
    ) -> None:
        """Parse every file that mentions a must-retain name or an alias of one, until nothing is new.

        Each round asks the same question of every file with more words; which files contain a word is
        computed once per word (a substring scan), so a round costs set operations plus a regex
        confirmation on the few candidate files.
        """
        seen: tuple | None = None
        stars = corpus.files_importing("import *")
        while True:
            prefilter = self._prefilter(with_classes=True, reexports_only=True)
            if prefilter.key() == seen:
                break
            seen = prefilter.key()
            plain_only = Prefilter(set(prefilter.plain), {})
            for i in sorted(prefilter.candidates(corpus)):
                if files[i].module not in self.summaries and prefilter(
                    files[i].data, files[i].path
                ):
                    skeleton = _skeleton_suffices(files[i], prefilter, plain_only)
                    self._summarize(files[i], cache, skeleton=skeleton)
            # A star import of a module summarized just now matters too, whatever the files' order
            # (a -> b -> service as well as z -> y -> service): repeat until no star importer is new.
            waiting = [i for i in sorted(stars) if files[i].module not in self.summaries]
            while waiting:
                known = len(self.summaries)
                for i in waiting:
                    if files[i].module not in self.summaries and self._star_source_matters(
                        files[i]
                    ):
                        self._summarize(files[i], cache)
                if len(self.summaries) == known:
                    break
                waiting = [i for i in waiting if files[i].module not in self.summaries]
            self._forget_lookups()

    def _infer_wrappers(self, files: list[SourceFile], cache: ParseCache, corpus: Corpus) -> bool:
        """Mark project functions that return a must-retain result (directly or through a local).

        Returns whether anything new was marked. Wrappers of wrappers are found by propagation: each
        ``return`` that could pass a result on is a site, indexed by the names it calls; a new mark
        re-examines only the sites that call its name, and brings in the files that mention it. So a
        chain of wrappers costs time linear in its length whatever the order of files and definitions.
        The caller repeats (with the alias closure) until nothing is new, so re-exported wrappers count.
        """
        names = {qualname.rpartition(".")[2] for qualname in self.marks}
        candidates = self._prefilter().candidates(corpus)
        uncollected = set(range(len(files)))
        sites: list[_Site] = []
        opened: list[SourceFile] = []

        def collect(i: int, words: set[str]) -> list[_Site]:
            file = files[i]
            if b"return" not in file.data:
                uncollected.discard(i)
                return []
            if not may_return_one(file.data, words | self._aliases_in(file, words)):
                return []  # (a name marked later may still bring it in)
            uncollected.discard(i)
            self.used.add(file.path)
            scopes = cache.scopes(file)
            if scopes is None:
                return []
            opened.append(file)
            return _sites(file, scopes)

        for i in sorted(candidates):
            sites.extend(collect(i, names))
        added = self._propagate(
            sites, lambda name: self._new_sites(name, corpus, uncollected, collect)
        )
        for file in opened:
            cache.done(file)
        return self._infer_typed_returns_in(files, cache, candidates) or added

    def _infer_typed_returns_in(
        self, files: list[SourceFile], cache: ParseCache, candidates: set[int]
    ) -> bool:
        """The files among ``candidates`` whose return annotations may name a must-retain class."""
        classes = self._class_mark_names()
        if not classes:
            return False
        known = lambda q: self.lookup(q) is not None  # noqa: E731
        added = False
        for i in sorted(candidates):
            file = files[i]
            if b"->" not in file.data or not may_annotate_one(file.data, classes):
                continue
            self.used.add(file.path)
            scopes = cache.scopes(file)
            if scopes is None:
                continue
            added |= self._infer_typed_returns(file, scopes, known)
            cache.done(file)
        if added:
            self._forget_lookups()
        return added

    def _new_sites(
        self,
        name: str,
        corpus: Corpus,
        uncollected: set[int],
        collect: Callable[[int, set[str]], list[_Site]],
    ) -> list[_Site]:
        """Sites of files not yet looked at that mention a name just marked."""
        found: list[_Site] = []
        # Only the files not looked at yet are scanned for the name (a chain within one file would
        # otherwise rescan that file for each of its wrappers).
        for i in sorted(corpus.files_with(name, uncollected)):
            found.extend(collect(i, {name}))
        return found

    def _aliases_in(self, file: SourceFile, names: set[str]) -> set[str]:
        """Local names under which the file may call one of ``names``: ``import ... as`` aliases and the
        module's own aliases of must-retain things (``from svc import start as s; return s()``)."""
        data = file.data
        found = (
            {
                match.group(2).decode()
                for match in _AS_ALIAS.finditer(import_lines(data))
                if match.group(1).decode() in names
            }
            if b" as " in data
            else set()
        )
        summary = self.summaries.get(file.module)
        if summary is not None:
            for local, targets in summary.bindings.items():
                if any(t.rpartition(".")[2] in names for t in targets):
                    found.add(local)
        return found

    def _propagate(
        self, sites: list[_Site], more: Callable[[str], list[_Site]] | None = None
    ) -> bool:
        """Examine every site once, then again only the sites that call a name just marked (and, through
        ``more``, those of files that mention it), until none is left; then one more full pass for what
        names cannot tell (a wrapper re-exported under another name), repeated while it finds anything."""
        by_name: dict[str, list[int]] = {}

        def index(start: int) -> None:
            for at in range(start, len(sites)):
                for name in sites[at].keys:
                    by_name.setdefault(name, []).append(at)

        index(0)
        known = lambda q: self.lookup(q) is not None  # noqa: E731
        added = False
        while True:
            queue = deque(range(len(sites)))
            queued = set(queue)
            found_any = False
            while queue:
                at = queue.popleft()
                queued.discard(at)
                mark = self._infer_site(sites[at], known)
                if mark is None:
                    continue
                found_any = True
                name = mark.short_name
                if more is not None:
                    start = len(sites)
                    sites.extend(more(name))
                    index(start)
                    for new in range(start, len(sites)):
                        queue.append(new)
                        queued.add(new)
                for other in by_name.get(name, ()):
                    if other not in queued:
                        queue.append(other)
                        queued.add(other)
            added |= found_any
            if not found_any:
                return added

    def _infer_site(self, site: _Site, known: Callable[[str], bool]) -> Mark | None:
        """Mark the site's function if it returns a must-retain result; the new mark, else None."""
        scope = site.scope
        marked = self.marks.get(scope.qualname)
        if marked is not None and (marked.source != "decorator" or marked.entry is not None):
            return None
        inner = self._returned_mark(site.scopes, site.node.value, scope, known)
        if inner is None:
            return None
        if marked is not None:
            # A marked wrapper of a catalog entry keeps the entry's nature (a task repeats).
            if inner.entry is None:
                return None
            mark = replace(marked, entry=inner.entry, reason=marked.reason or inner.reason)
        else:
            function = scope.node
            assert isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
            self.defined_in[scope.qualname] = site.file.path
            mark = Mark(
                scope.qualname,
                "method" if scope.enclosing_class() is not None else "function",
                "inferred",
                attr=inner.attr,
                reason=inner.reason,
                is_async=isinstance(function, ast.AsyncFunctionDef),
                location=f"{site.file.display}:{function.lineno}",
                entry=inner.entry,
                returns=inner,
                path=site.file.path,
                line=function.lineno,
            )
        self.marks[scope.qualname] = mark
        self._lookup_cache.clear()
        return mark

    def _infer_typed_returns(
        self, file: SourceFile, scopes: FileScopes, known: Callable[[str], bool]
    ) -> bool:
        """A function whose return annotation is a must-retain class (or ``Optional``/``|`` of one) is
        must-retain (KR003): ``def get() -> Handle`` with ``Handle`` marked. ``Self`` and the class's
        own methods are left alone (a fluent ``h.configure()`` keeps ``h``)."""
        added = False
        for qualname, function in scopes.functions.items():
            node = function.node
            returns = getattr(node, "returns", None)
            if returns is None or qualname in self.marks:
                continue
            cls = function.enclosing_class()
            for typed in scopes._annotation_type(
                returns, function.parent or scopes.module, known, 0
            ):
                mark = self.lookup(typed[1:])
                if (
                    mark is None
                    or mark.kind != "class"
                    or mark.source not in ("decorator", "config")
                ):
                    continue
                if cls is not None and (cls.qualname == typed[1:] or cls.qualname == mark.qualname):
                    continue
                self.defined_in[qualname] = file.path
                self.marks[qualname] = Mark(
                    qualname,
                    "method" if cls is not None else "function",
                    "inferred",
                    attr=mark.attr,
                    reason=mark.reason,
                    is_async=isinstance(node, ast.AsyncFunctionDef),
                    location=f"{file.display}:{node.lineno}",  # type: ignore[union-attr]
                    returns=replace(mark, qualname=typed[1:]),
                    path=file.path,
                    line=node.lineno,  # type: ignore[union-attr]
                )
                added = True
                break
        return added

    def affected_by(self, file: SourceFile) -> bool:
        """Would the build have read this text (so an index built without it may be stale)? The same
        tests as the build's, with its final words: a marker decorator, a re-export or class base of a
        must-retain name, a star import that matters, a possible wrapper."""
        return (
            self._summary_mode(file) is not None
            or self._may_define_wrapper(file)
            or not self._types_still_hold(file, None)
        )

    def _types_still_hold(self, file: SourceFile, cache: ParseCache | None) -> bool:
        """Do the config marks' ``async``, the receiver facts and the receiver questions read from this
        text stay what the build found? (``cache`` None: the file was not read by the build.)"""
        cache = cache or ParseCache()
        types = self.receiver_types
        data, path = file.data, file.path
        for qualname, was_async in self.config_defs.get(path, {}).items():
            tail = qualname[len(file.module) + 1 :]
            if _defined_async(file, cache, tail) != was_async:
                return False
        if any(q.startswith(f"{file.module}.") for q in types.asked) and path not in types.facts:
            return False  # a module that answers a question the build could not
        known = lambda q: self.lookup(q) is not None  # noqa: E731
        if path in types.facts:
            scopes = cache.scopes(file)
            if scopes is None:
                return False
            scopes.types = types
            facts = file_facts(scopes, known)
            cache.done(file)
            if facts.shape() != types.facts[path].shape():
                return False
        if types.receiver_file(data, path):
            asked = questions_of(file, cache, types, types.names, known)
            if asked is None or not asked <= types.asked:
                return False
        return True

    def _may_define_wrapper(self, file: SourceFile) -> bool:
        """The wrapper inference's textual tests, with the marks known now: could a function of this
        file return a must-retain result?"""
        data = file.data
        if not self.prefilter.mentions(data, file.path):
            return False
        if b"->" in data and may_annotate_one(data, self._class_mark_names()):
            return True
        if b"return" not in data:
            return False
        names = {qualname.rpartition(".")[2] for qualname in self.marks}
        return may_return_one(data, names | self._aliases_in(file, names))

    def _class_mark_names(self) -> set[str]:
        """Last names of marked or configured classes and of the project classes that inherit a mark
        (a return annotation that names one makes its function must-retain)."""
        names = set()
        for qualname, mark in self.marks.items():
            if mark.kind == "class" and mark.source in ("decorator", "config"):
                names.add(qualname.rpartition(".")[2])
            elif qualname.endswith(".__init__") and mark.source == "decorator":
                names.add(qualname.split(".")[-2])
        for summary in self.summaries.values():
            for qualname in summary.classes:
                if self.lookup(qualname) is not None:
                    names.add(qualname.rpartition(".")[2])
        return names

    def _summary_mode(self, file: SourceFile) -> bool | None:
        """How the build would summarize this text now: None (not at all), True (its skeleton) or
        False (whole). The build's own tests, with its final words."""
        data, path = file.data, file.path
        if any(decorator.encode() in data for decorator in self.decorators):
            return False
        closure = self._prefilter(with_classes=True, reexports_only=True)
        if closure(data, path):
            return _skeleton_suffices(file, closure, Prefilter(set(closure.plain), {}))
        if b"import *" in data and self._star_source_matters(file):
            return False
        return None

    def refresh(self, file: SourceFile, cache: ParseCache) -> bool:
        """After an edit to ``file``, one of the files the index was built from: does its new text give
        the index what the old one gave, up to line numbers? Then the index's records of it are brought up
        to date in place (True); else (False) the index must be built again, and this one is spoilt.

        The file is read the way the build would read it now (summary, marker decorators, inferred
        wrappers); an edit that moves definitions, changes bodies that return nothing must-retain or
        touches comments leaves the index as it was.
        """
        path = file.path
        if not self._types_still_hold(file, cache):
            return False
        old = self.summaries.get(file.module)
        summarized = path in self.summarized
        new: ModuleSummary | None = None
        if old is None or summarized:  # (another file of the same module name holds the summary)
            mode = self._summary_mode(file)
            if (mode is None) != (not summarized) or (summarized and mode != self.summarized[path]):
                return False  # the build would now read it otherwise, or not at all
            if mode is not None:
                assert old is not None
                new = self._read_summary(file, cache, mode)
                # The names a module defines matter only to modules that star-import it.
                starred = any(file.module in summary.stars for summary in self.summaries.values())
                if new is None or _summary_shape(new, starred) != _summary_shape(old, starred):
                    return False
        before = {q: self.marks[q] for q, where in self.defined_in.items() if where == path}
        for qualname in before:
            del self.marks[qualname], self.defined_in[qualname]
        if new is not None:
            self._add_marks(new, path)
        self._forget_lookups()
        if self._may_define_wrapper(file):
            scopes = cache.scopes(file)
            if scopes is not None:
                self._propagate(_sites(file, scopes))
                known = lambda q: self.lookup(q) is not None  # noqa: E731
                if self._infer_typed_returns(file, scopes, known):
                    self._forget_lookups()
                cache.done(file)
        after = {q: self.marks[q] for q, where in self.defined_in.items() if where == path}
        if {q: _mark_shape(m) for q, m in before.items()} != {
            q: _mark_shape(m) for q, m in after.items()
        }:
            return False
        if new is not None:
            self.summaries[file.module] = new
            self._forget_lookups()
        return True

    def _returned_mark(
        self, scopes: FileScopes, value: ast.expr | None, scope: Scope, known: Callable[[str], bool]
    ) -> Mark | None:
        if isinstance(value, ast.Name):  # return a local assigned from a must-retain call
            if _loads(scope.node, value.id) > 1:
                return None  # the function also uses it (stores it in a set, ...): it keeps its own reference
            for kind, payload in scope.bindings.get(value.id, ()):
                if kind == ASSIGN and isinstance(payload, ast.expr):
                    mark = self._returned_mark(scopes, payload, scope, known)
                    if mark is not None:
                        return mark
            return None
        awaited = isinstance(value, ast.Await)
        if awaited:
            value = value.value  # type: ignore[union-attr]
        if not isinstance(value, ast.Call):
            return None
        factory = _factory_class(value, scope)
        if factory is not None:  # ``return cls(...)`` in a classmethod: an instance of the class
            mark = self.lookup(factory.qualname)
            return mark if mark is not None and not awaited and not mark.is_async else None
        for qualname in scopes.qualify(value.func, scope, known):
            mark = self.lookup(qualname)
            if mark is not None and awaited == mark.is_async:
                entry = ENTRIES.get(mark.entry) if mark.entry else None
                if entry is not None and entry.condition is not None and not entry.condition(value):
                    return None
                return mark
        return None

    def _star_source_matters(self, file: SourceFile) -> bool:
        """Does the file star-import a module the index knows (so it may re-export a mark)?"""
        for match in _STAR_IMPORT.finditer(file.data):
            dots, name = match.group(1).decode(), match.group(2).decode()
            source = resolve_relative(file.module, file.is_package, len(dots), name or None)
            if source is not None and (
                source in self.summaries or source.partition(".")[0] in _CATALOG_ROOTS
            ):
                return True
        return False

    def _canonicalize_config_marks(self) -> None:
        """A config entry may name a re-export (``pkg.start``); mark the definition it leads to as well."""
        for qualname, mark in list(self.marks.items()):
            target = self._follow(qualname, set())
            if target is not None and target != qualname and target not in self.marks:
                self.marks[target] = mark
        self._forget_lookups()

    def _prefilter(self, with_classes: bool = False, reexports_only: bool = False) -> Prefilter:
        """What a file must mention to call something must-retain (see Prefilter)."""
        plain: set[str] = set()
        guarded: dict[str, set[str]] = {}
        in_file: dict[str, set[str]] = {}
        # Names of module-level functions (and module-level aliases) -> their modules' last names;
        # a name that also belongs to something else (a method, a configured name) is left plain.
        bound: dict[str, set[str]] = {}
        methods: dict[str, set[str]] = {}  # method name -> its classes' names
        unbound: set[str] = set()
        for qualname, mark in self.marks.items():
            parts = qualname.split(".")
            if mark.source == "catalog":
                guarded.setdefault(parts[0], set()).add(parts[-1])
                continue
            if "<locals>" in parts and mark.path is not None:
                if not reexports_only:  # it is reached from its own file only: nothing to re-export
                    in_file.setdefault(mark.path, set()).add(parts[-1])
                continue
            plain.add(parts[-1])
            if (
                mark.kind == "function"
                and mark.source in ("decorator", "inferred")
                and "<locals>" not in parts
                and len(parts) > 1
            ):
                bound.setdefault(parts[-1], set()).add(parts[-2])
            elif (
                mark.kind == "method"
                and mark.source in ("decorator", "inferred")
                and "<locals>" not in parts[:-1]
                and len(parts) > 2
            ):
                methods.setdefault(parts[-1], set()).add(parts[-2])
            else:
                unbound.add(parts[-1])
            if with_classes and mark.kind == "method" and len(parts) > 1:
                plain.add(parts[-2])
                unbound.add(parts[-2])
        for module, summary in self.summaries.items():
            for local, targets in summary.bindings.items():
                marks = [m for m in map(self.lookup, targets) if m is not None]
                if not marks:
                    continue
                if all(m.source == "catalog" for m in marks):
                    # Importers of a re-exported catalog name name this module (its last part).
                    guarded.setdefault(module.rpartition(".")[2], set()).add(local)
                else:
                    plain.add(local)  # a module attribute: reached through what a file binds
                    bound.setdefault(local, set()).add(module.rpartition(".")[2])
        owners: dict[str, set[str]] = {}
        if reexports_only:
            bound = {}
        else:
            for name, classes in methods.items():
                if name not in unbound and name not in bound:
                    owners[name] = self._related_names(classes)
        for name in unbound:
            bound.pop(name, None)
        for name in methods:
            if name in bound:  # also a module-level function's name: plain
                del bound[name]
        if not reexports_only:
            for path in self.receiver_types.hits:
                in_file.setdefault(path, set()).update(self.receiver_types.names)
        return Prefilter(plain, guarded, reexports_only, in_file, bound, owners)

    def _related_names(self, classes: set[str]) -> set[str]:
        """The class names, with (by last name, so never too few) the summarized classes deriving from
        them and the module-level aliases of any of those."""
        if self._derived is None:
            derived: dict[str, set[str]] = {}
            for summary in self.summaries.values():
                for qualname, info in summary.classes.items():
                    for base in info.bases:
                        derived.setdefault(base.rpartition(".")[2], set()).add(
                            qualname.rpartition(".")[2]
                        )
                for local, targets in summary.bindings.items():
                    for target in targets:
                        derived.setdefault(target.rpartition(".")[2], set()).add(local)
            self._derived = derived
        found = set(classes)
        pending = list(classes)
        while pending:
            for name in self._derived.get(pending.pop(), ()):
                if name not in found:
                    found.add(name)
                    pending.append(name)
        return found

    # -- lookup ----------------------------------------------------------------------------------
    def _forget_lookups(self) -> None:
        """Marks or summaries changed: what lookups and star exports found may no longer hold."""
        self._lookup_cache.clear()
        self._exports.clear()
        self._derived = None

    def lookup(self, qualname: str) -> Mark | None:
        """The mark a qualified name leads to, following re-exports, aliases, star imports and bases."""
        if qualname in self._lookup_cache:
            return self._lookup_cache[qualname]
        self._lookup_cache[qualname] = None  # a cycle through bases finds nothing
        result = self._lookup(qualname) or self._inherited(qualname)
        self._lookup_cache[qualname] = result
        return result

    def _inherited(self, qualname: str) -> Mark | None:
        """Marks that reach a name through its class: an override of a marked method (``Sub.open``
        when ``Base.open`` is marked or configured), a subclass of a marked class, and a class whose
        ``__init__`` is marked."""
        owner, _, name = qualname.rpartition(".")
        info = self._class_info(owner) if owner else None
        if info is not None and name in info.names:
            for base in info.bases:
                mark = self.lookup(f"{base}.{name}")
                if (
                    mark is not None
                    and mark.source in ("decorator", "config")
                    and mark.kind != "class"
                ):
                    return mark
        info = self._class_info(qualname)
        if info is None:
            return None
        init = self.marks.get(f"{qualname}.__init__")
        if init is not None and init.source == "decorator":
            return replace(init, qualname=qualname, kind="class")
        for base in info.bases:
            mark = self.lookup(base)
            if mark is not None and mark.kind == "class":
                return mark
        return None

    def _lookup(self, qualname: str) -> Mark | None:
        """Depth first through the names ``qualname`` denotes (in ``_redirects``'s order), each visited
        once: a chain of any length ends at its mark, a cycle ends when it comes round."""
        seen: set[str] = set()
        stack = [qualname]
        while stack:
            name = stack.pop()
            mark = self.marks.get(name)
            if mark is not None:
                return mark
            if name in seen:
                continue
            seen.add(name)
            stack.extend(reversed(self._redirects(name)))
        return None

    def _redirects(self, qualname: str) -> list[str]:
        """Other names that ``qualname`` denotes: through a binding, a star import, or a base class."""
        parts = qualname.split(".")
        found: list[str] = []
        for i in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:i])
            name, rest = parts[i], parts[i + 1 :]
            tail = "".join("." + p for p in rest)
            summary = self.summaries.get(prefix)
            if summary is not None:
                # A target that the name already starts with is skipped: in discord.ui,
                # ``from .select import *`` rebinds ``select`` to discord.ui.select.select, and following
                # that again from discord.ui.select.select.X would grow the name without end.
                targets = list(summary.bindings.get(name, ()))
                for star in summary.stars:
                    if star in self.summaries:
                        targets.extend(self._star_exports(star).get(name, ()))
                found.extend(
                    target + tail
                    for target in targets
                    if not (
                        qualname.startswith(target)
                        and qualname[len(target) : len(target) + 1] in ("", ".")
                    )
                )
            owner = self._class_info(prefix)
            if owner is not None and name not in owner.names:
                found.extend(f"{base}.{name}{tail}" for base in owner.bases)
        return found

    def _own_exports(self, module: str) -> dict[str, list[str]]:
        """What ``from <module> import *`` binds from the module's own statements: a name it defines
        stands for itself, a name it imports or aliases for its targets (and for itself when marked)."""
        summary = self.summaries[module]
        own: dict[str, list[str]] = {}
        for name in summary.defined:
            own[name] = [f"{module}.{name}"]
        for name, targets in summary.bindings.items():
            here = f"{module}.{name}"
            listed = own.setdefault(name, [here] if here in self.marks else [])
            listed.extend(t for t in targets if t not in listed)
        return own

    def _star_exports(self, module: str) -> dict[str, list[str]]:
        """Every name ``from <module> import *`` binds -> what it stands for, through the module's own
        star imports of any depth. Computed once per module (until the index changes) over the star graph's
        strongly connected components (Tarjan, without recursion), so cycles share one table."""
        done = self._exports
        if module in done:
            return done[module]
        summaries = self.summaries
        order: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()

        def sources(name: str) -> list[str]:
            return [s for s in summaries[name].stars if s in summaries and s != name]

        work: list[tuple[str, Iterator[str]]] = [(module, iter(sources(module)))]
        order[module] = low[module] = 0
        stack.append(module)
        on_stack.add(module)
        while work:
            node, pending = work[-1]
            advanced = False
            for source in pending:
                if source in done:
                    continue
                if source not in order:
                    order[source] = low[source] = len(order)
                    stack.append(source)
                    on_stack.add(source)
                    work.append((source, iter(sources(source))))
                    advanced = True
                    break
                if source in on_stack:
                    low[node] = min(low[node], order[source])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] != order[node]:
                continue
            members: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            members.reverse()
            # The component's star imports from outside it (already done) and its members' own names.
            shared: dict[str, list[str]] = {}
            for member in members:
                for name, targets in self._own_exports(member).items():
                    listed = shared.setdefault(name, [])
                    listed.extend(t for t in targets if t not in listed)
            for member in members:
                for source in sources(member):
                    if source in done:
                        for name, targets in done[source].items():
                            listed = shared.setdefault(name, [])
                            listed.extend(t for t in targets if t not in listed)
            for member in members:
                table = self._own_exports(member)
                if len(members) > 1 or summaries[member].stars:
                    for name, targets in shared.items():
                        listed = table.setdefault(name, [])
                        listed.extend(t for t in targets if t not in listed)
                done[member] = table
        return done[module]

    def _class_info(self, qualname: str) -> ClassInfo | None:
        module = qualname
        while "." in module:
            module = module.rpartition(".")[0]
            summary = self.summaries.get(module)
            if summary is not None:
                return summary.classes.get(qualname)
        return None

    def _follow(self, qualname: str, seen: set[str]) -> str | None:
        """Where a re-exported name is defined (first binding chain), or None if it is not re-exported."""
        target: str | None = None
        while qualname not in seen:
            seen.add(qualname)
            parts = qualname.split(".")
            for i in range(len(parts) - 1, 0, -1):
                summary = self.summaries.get(".".join(parts[:i]))
                if summary is not None and parts[i] in summary.bindings:
                    qualname = summary.bindings[parts[i]][0] + "".join(
                        "." + p for p in parts[i + 1 :]
                    )
                    target = qualname
                    break
            else:
                break
        return target


class _Site(NamedTuple):
    """A ``return`` in a function: the function may pass on what the names in ``keys`` return."""

    file: SourceFile
    scopes: FileScopes
    node: ast.Return
    scope: Scope
    keys: frozenset[str]


def _factory_class(call: ast.Call, scope: Scope) -> Scope | None:
    """The class whose classmethod ``scope`` calls its ``cls`` parameter (``return cls(...)``)."""
    if (
        isinstance(call.func, ast.Name)
        and scope.self_kind == "class"
        and call.func.id == scope.self_name
    ):
        return scope.enclosing_class()
    return None


def _sites(file: SourceFile, scopes: FileScopes) -> list[_Site]:
    """The file's returns in functions, each with the names it may call: the last name of each call in
    the returned value (or in the assignments of a returned local), and what an import or alias of the
    call's head stands for."""
    found = []
    never = lambda q: False  # noqa: E731
    for node, scope in scopes.returns:
        if scope.kind != "function" or node.value is None:
            continue
        values = [node.value]
        if isinstance(node.value, ast.Name):
            values = [
                payload
                for kind, payload in scope.bindings.get(node.value.id, ())
                if kind == ASSIGN and isinstance(payload, ast.expr)
            ]
        keys: set[str] = set()
        for value in values:
            for call in ast.walk(value):
                if not isinstance(call, ast.Call):
                    continue
                func = call.func
                factory = _factory_class(call, scope)
                if factory is not None:
                    keys.add(factory.qualname.rpartition(".")[2])
                if isinstance(func, ast.Name):
                    keys.add(func.id)
                elif isinstance(func, ast.Attribute):
                    keys.add(func.attr)
                keys.update(q.rpartition(".")[2] for q in scopes.qualify(func, scope, never))
        if keys:
            found.append(_Site(file, scopes, node, scope, frozenset(keys)))
    return found


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _mark_for(
    node: ast.AST, decorators: set[str], problems: list[tuple[int, str]] | None = None
) -> tuple[str | None, str | None] | None:
    """(attr, reason) when one of the node's decorators is a marker, else None.

    Literal arguments are checked as the configuration's are: an ``attr`` that is not a plain
    identifier (``attr="x = 1; self.y"``, ``attr="class"``) or a ``reason`` that is not a string is left
    out (the mark stands, and the fixer names the attribute itself) and described in ``problems``.
    """
    for decorator in getattr(node, "decorator_list", ()):
        if last_name(decorator) not in decorators:
            continue
        options: dict[str, str | None] = {"attr": None, "reason": None}
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg not in options or not isinstance(keyword.value, ast.Constant):
                    continue
                value = keyword.value.value
                if keyword.arg == "attr" and not (
                    isinstance(value, str)
                    and _IDENTIFIER.fullmatch(value)
                    and not keyword_module.iskeyword(value)
                ):
                    if problems is not None:
                        problems.append(
                            (
                                decorator.lineno,
                                f"must_retain attr {value!r} is not a Python identifier; "
                                "ignored (the fix names the attribute itself)",
                            )
                        )
                    continue
                if keyword.arg == "reason" and not isinstance(value, str):
                    if problems is not None:
                        problems.append(
                            (
                                decorator.lineno,
                                f"must_retain reason {value!r} is not a string; ignored",
                            )
                        )
                    continue
                options[keyword.arg] = value
        return options["attr"], options["reason"]
    if _annotated_marker(getattr(node, "returns", None), decorators):
        return None, None
    return None


def _annotated_marker(returns: ast.expr | None, decorators: set[str]) -> bool:
    """Is the return annotation ``Annotated[T, Marker]`` with a metadata item named like a marker
    (``must_retain``; ``MustRetain`` or ``NoDiscard`` for ``must_retain`` or ``nodiscard``: case and
    underscores aside)? A string annotation is read the same way."""
    if isinstance(returns, ast.Constant) and isinstance(returns.value, str):
        try:
            returns = ast.parse(returns.value.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    if not isinstance(returns, ast.Subscript) or last_name(returns.value) != "Annotated":
        return False
    items = returns.slice.elts if isinstance(returns.slice, ast.Tuple) else []
    folded = {d.replace("_", "").lower() for d in decorators}
    return any((last_name(m) or "").replace("_", "").lower() in folded for m in items[1:])


def _skeleton_suffices(file: SourceFile, closure: Prefilter, plain_only: Prefilter) -> bool:
    """For a file the alias closure reads: did only a catalog re-export bring it there? Then its
    top-level imports and aliases are all that matter, unless it is the catalog's own module (whose
    aliases may stand under an ``if``). ``plain_only`` is the closure's test for project names alone."""
    own = any(within_package(file.path, guard) for guard in closure.guarded)
    return not own and not plain_only(file.data)


def _mark_shape(mark: Mark) -> tuple:
    """A mark without where its definition stands (its line moves with every edit above it). What it
    returns is named, not expanded: the marks of the file being compared are compared each, and the
    others did not change (a chain of wrappers may be thousands long)."""
    returns = mark.returns.qualname if mark.returns is not None else None
    return (*replace(mark, location=None, line=0, returns=None).__dict__.values(), returns)


def _summary_shape(summary: ModuleSummary, with_defined: bool) -> tuple:
    return (
        summary.module,
        summary.bindings,
        summary.stars,
        summary.classes,
        [_mark_shape(mark) for mark in summary.marks],
        summary.defined if with_defined else None,
    )


def summarize_module(
    tree: ast.Module, file: SourceFile, decorators: set[str], markers: set[str] = frozenset()
) -> ModuleSummary:
    """Module-level bindings, class shapes and marked definitions of one module. A name the module
    imports from a marker (``from keepref_lint import must_retain as keep``, or a project module's
    re-export of one under another name, in ``markers``) is a marker too."""
    decorators = set(decorators) | _marker_aliases(tree, file, decorators, markers)
    summary = ModuleSummary(file.module)
    module_defs: set[str] = set()
    raw_bases: dict[str, list[ast.expr]] = {}

    def add_binding(local: str, target: str) -> None:
        targets = summary.bindings.setdefault(local, [])
        if target not in targets:
            targets.append(target)

    def definitions(body: list[ast.stmt], prefix: str, in_class: str | None, top: bool) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualname = f"{prefix}.{stmt.name}"
                if top:
                    module_defs.add(stmt.name)
                    summary.defined.add(stmt.name)
                if in_class is not None:
                    summary.classes[in_class].names.add(stmt.name)
                options = _mark_for(stmt, decorators, problems)
                if isinstance(stmt, ast.ClassDef):
                    kind = "class"
                elif in_class is not None:
                    kind = "method"
                else:
                    kind = "function"
                if options is not None:
                    summary.marks.append(
                        Mark(
                            qualname,
                            kind,
                            "decorator",
                            attr=options[0],
                            reason=options[1],
                            is_async=isinstance(stmt, ast.AsyncFunctionDef),
                            location=f"{file.display}:{stmt.lineno}",
                        )
                    )
                if isinstance(stmt, ast.ClassDef):
                    summary.classes[qualname] = ClassInfo([], set())
                    raw_bases[qualname] = list(stmt.bases)
                    definitions(stmt.body, qualname, qualname, False)
                else:
                    definitions(stmt.body, f"{qualname}.<locals>", None, False)
            elif top and isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for local, target in import_bindings(stmt, file.module, file.is_package):
                    if local == "*":
                        summary.stars.append(target)
                    else:
                        add_binding(local, target)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        if top:
                            summary.defined.add(target.id)
                        if in_class is not None:
                            summary.classes[in_class].names.add(target.id)
                        elif top and stmt.value is not None:
                            dotted = dotted_name(stmt.value)
                            if dotted is not None:
                                aliases.append((target.id, dotted))
            elif isinstance(stmt, (ast.If, ast.Try, ast.With, ast.AsyncWith)) or (
                hasattr(ast, "TryStar") and isinstance(stmt, ast.TryStar)
            ):
                for block in _blocks(stmt):
                    definitions(block, prefix, in_class, top)

    aliases: list[tuple[str, str]] = []
    problems: list[tuple[int, str]] = []
    definitions(tree.body, file.module, None, True)
    summary.problems = [(f"{file.display}:{line}", cause) for line, cause in problems]

    def qualify(dotted: str) -> list[str]:
        head, _, tail = dotted.partition(".")
        suffix = f".{tail}" if tail else ""
        if head in summary.bindings:
            return [t + suffix for t in summary.bindings[head]]
        if head in module_defs:
            return [f"{file.module}.{head}{suffix}"]
        return []

    for local, dotted in aliases:
        for target in qualify(dotted):
            if target != f"{file.module}.{local}":
                add_binding(local, target)
    for qualname, bases in raw_bases.items():
        for base in bases:
            dotted = dotted_name(base)
            if dotted is not None:
                summary.classes[qualname].bases.extend(qualify(dotted))
    return summary


def _marker_aliases(
    tree: ast.Module, file: SourceFile, decorators: set[str], markers: set[str]
) -> set[str]:
    """Local names the module's imports bind to a marker decorator."""
    found = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for local, target in import_bindings(stmt, file.module, file.is_package):
                if target in markers or target.rpartition(".")[2] in decorators:
                    found.add(local)
    return found


def _defined_async(file: SourceFile, cache: ParseCache, path: str) -> bool | None:
    """Is ``path`` (``func`` or ``Class.method``) of the module an ``async def``? None when the module
    does not define it (or does not parse)."""
    name = path.rpartition(".")[2]
    if name.encode() not in file.data:
        return None
    tree = cache.parse(file)
    if tree is None:
        return None
    body: list[ast.stmt] = tree.body
    parts = path.split(".")
    for i, part in enumerate(parts):
        node = next(
            (
                n
                for n in body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and n.name == part
            ),
            None,
        )
        if node is None:
            return None
        if i == len(parts) - 1:
            return isinstance(node, ast.AsyncFunctionDef)
        body = node.body
    return None


def _blocks(stmt: ast.stmt) -> Iterable[list[ast.stmt]]:
    if isinstance(stmt, ast.If):
        yield stmt.body
        yield stmt.orelse
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        yield stmt.body
    else:
        yield stmt.body  # type: ignore[attr-defined]
        for handler in stmt.handlers:  # type: ignore[attr-defined]
            yield handler.body
        yield stmt.orelse  # type: ignore[attr-defined]
        yield stmt.finalbody  # type: ignore[attr-defined]
