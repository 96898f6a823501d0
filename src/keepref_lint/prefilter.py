"""The prefilter: can a file's text matter? Answered from its bytes, before any parse.

Prefilter is the test (a file that says no is never parsed; ``corpus.Corpus`` says which of many files
contain a word), and the byte-level helpers below are its vocabulary: whole-word occurrences, import
lines and where on a line a name stands (a drop, a re-export, a ``return``, an annotation).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Iterator

from keepref_lint.shapes import drop_shaped as _drop_shaped

TYPE_CHECKING = False
if TYPE_CHECKING:
    from keepref_lint.corpus import Corpus


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

    def _owned(self, data: bytes, name: str) -> bool:
        """Does the text name an owner of the method ``name`` (if it is one of the ``owners``')?"""
        owners = self.owners.get(name)
        return owners is None or any(True for owner in owners for _ in occurrences(data, owner))

    def _plain_word(self, data: bytes, path: str = "", imports: bytes | None = None) -> bool:
        bound = self.bound
        for name in self.plain:
            if not self._owned(data, name):
                continue
            for at in occurrences(data, name):
                if name not in bound:
                    return True
                if imports is None:
                    imports = import_lines(data)
                if _bound(data, at, name, imports, bound[name], path):
                    return True
        return False

    def _guarded_here(
        self, data: bytes, path: str, imports: bytes | None = None
    ) -> list[frozenset[str]]:
        """The guarded names whose guard the file imports (or whose package it belongs to)."""
        if not self.guarded:
            return []
        if imports is None:
            imports = import_lines(data)
        return [
            names
            for guard, names in self.guarded.items()
            if guard.encode() in imports or within_package(path, guard)
        ]

    def __call__(self, data: bytes, path: str = "", imports: bytes | None = None) -> bool:
        """``imports``: the text's ``import_lines``, if at hand (the corpus keeps each file's)."""
        if has_lone_cr(data):
            return self.mentions(data, path)  # the line tests cannot read it: analyse it whole
        if self._local_word(data, path):
            return True
        if self.reexports_only:
            # A module passes a name on by importing or aliasing it, or names a class as a base (a
            # method's name only beside its class's: ``start = Server.start``).
            if any(
                passes_on(data, at, n)
                for n in self.plain
                if self._owned(data, n)
                for at in occurrences(data, n)
            ):
                return True
        elif self._plain_word(data, path, imports):
            return True
        shaped = passes_on if self.reexports_only else drop_shaped
        return any(
            shaped(data, at, name)
            for names in self._guarded_here(data, path, imports)
            for name in names
            for at in occurrences(data, name)
        )

    def drop_offsets(self, data: bytes, path: str = "") -> list[tuple[int, str]] | None:
        """Where a guarded name stands as a possible drop; None when a plain word occurs (its calls can
        hide behind local aliases, so only a whole-file analysis can tell)."""
        if has_lone_cr(data) or self._local_word(data, path) or self._plain_word(data, path):
            return None
        return self._drop_places(data, path)

    def drop_places(self, data: bytes, path: str = "") -> tuple[bool, list[tuple[int, str]] | None]:
        """``(self(data, path), self.drop_offsets(data, path))`` in one pass over the text: what checking
        a file asks first (of a text the guarded names let through, the occurrences are found once)."""
        if self.reexports_only or has_lone_cr(data):
            return self(data, path), None
        if self._local_word(data, path) or self._plain_word(data, path):
            return True, None
        places = self._drop_places(data, path)
        return bool(places), places

    def _drop_places(self, data: bytes, path: str) -> list[tuple[int, str]]:
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

    def beyond(self, old: Prefilter) -> Prefilter:
        """The words of this test that ``old`` lacks (``reexports_only`` tests only). Those tests are a
        disjunction over words, so a text ``old`` refused passes this test exactly when it passes
        ``beyond(old)``: the alias closure's next round asks only about its new words."""
        assert self.reexports_only and old.reexports_only
        guarded = {g: set(n - old.guarded.get(g, frozenset())) for g, n in self.guarded.items()}
        local = {p: set(n - old.local.get(p, frozenset())) for p, n in self.local.items()}
        # A method's name is new too when its owners changed (a file may now name one).
        plain = {
            n for n in self.plain if n not in old.plain or self.owners.get(n) != old.owners.get(n)
        }
        return Prefilter(
            plain,
            {g: n for g, n in guarded.items() if n},
            reexports_only=True,
            local={p: n for p, n in local.items() if n},
            owners={n: set(o) for n, o in self.owners.items() if n in plain},
        )

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
        # The words first, all at once (a corpus with a helper asks it one question for them all),
        # then the owners of those found, the guards and the guarded names: the words the loops
        # below ask about, no others.
        corpus.scan(self.plain)
        corpus.scan(
            o
            for w in self.plain
            if w in self.owners and corpus.files_with(w)
            for o in self.owners[w]
        )
        corpus.scan_imports(self.guarded)
        corpus.scan_within(
            (name, corpus.files_importing(guard))
            for guard, names in self.guarded.items()
            for name in names
        )
        for word in self.plain:
            holding = corpus.files_with(word)
            owners = self.owners.get(word)
            if owners is not None and holding:  # a method's name counts beside an owner's only
                holding = holding & set().union(*(corpus.files_with(o) for o in owners))
            found |= holding
        for path, names in self.local.items():
            index = corpus.position.get(path)
            if index is not None and any(n.encode() in corpus.texts[index] for n in names):
                found.add(index)
        for guard, names in self.guarded.items():
            within = corpus.files_importing(guard)
            for name in names:
                found |= corpus.files_with(name, within)
        return found


_LONE_CR = re.compile(rb"\r(?!\n)")


def has_lone_cr(data: bytes) -> bool:
    """Does a lone CR end a line of the text? Python reads it as a line break, but the text tests here
    read lines by their LF: such a file (old Mac line endings) is analysed whole instead."""
    return b"\r" in data and _LONE_CR.search(data) is not None


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


# What ``\w`` matches in a bytes pattern (ASCII only), for scans that stand in for one that begins with
# ``\b`` (``rules.calls_raises``, ``wrappers.as_aliases``). Not ``_is_word_byte``, which also counts the
# bytes of non-ASCII identifiers.
ASCII_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


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


_RETURN_PREFIX = re.compile(rb".*\breturn[ \t]+(await[ \t]+)?[\w.]*\Z")
_RETURNED = re.compile(rb".*\breturn[ \t]+\Z")
_LOCAL_PREFIX = re.compile(rb"[ \t]*(\w+)[ \t]*(?::[^=]*)?=[ \t]*(await[ \t]+)?[\w.]*\Z")
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


# ``return cls(``: the word first and the test of the byte before it after (a pattern that begins with
# a literal is searched for at C speed; one that begins with ``\b`` is tried at every offset).
_RETURNS_CLS = re.compile(rb"return(?<![\w]return)[ \t]+cls[ \t]*\(")


def may_return_one(
    data: bytes,
    names: Iterable[str],
    factories: bool = True,
    sync: Collection[str] = (),
    module_level: Collection[str] = (),
) -> bool:
    """A direct ``return call(...)``, or a local assigned from a call that some ``return`` names, or (with
    ``factories``: a class of the file may be must-retain) a classmethod factory's ``return cls(...)``.
    A call of a name in ``sync`` (whose must-retain things are all plain functions, never ``async def``)
    counts only when it is not awaited: what ``await`` gives is not the object to keep. A name in
    ``module_level`` (functions and classes of modules only) is not called as ``self.name(...)`` or
    ``cls.name(...)``, unless the text assigns an attribute of that name (``self.gather = gather``).
    A local counts where its own function returns it (``fragment.may_return_local``)."""
    from keepref_lint.fragment import may_return_local

    if (factories and _RETURNS_CLS.search(data)) or has_lone_cr(data):
        return True
    returned: dict[str, bool] = {}
    lines: list[bytes] | None = None
    for name in names:
        on_self = name in module_level and f".{name} =".encode() not in data
        for at in occurrences(data, name):
            if not _called(data, at, name) or (on_self and _on_self(data, at)):
                continue
            line = _line_before(data, at)
            direct = _RETURN_PREFIX.match(line)
            if direct:
                if direct.group(1) is None or name not in sync:
                    return True
                continue
            local = _LOCAL_PREFIX.match(line)
            if local and local.group(2) is not None and name in sync:
                continue
            if local:
                target = local.group(1).decode()
                if target not in returned:
                    returned[target] = any(
                        _RETURNED.match(_line_before(data, where))
                        for where in occurrences(data, target)
                    )
                if returned[target]:
                    lines = data.split(b"\n") if lines is None else lines
                    if may_return_local(data, at, name, target, lines):
                        return True
    return False


def _on_self(data: bytes, at: int) -> bool:
    """Does the occurrence follow ``self.`` or ``cls.`` (the names, not the end of longer ones)?"""
    for head in (b"self.", b"cls."):
        start = at - len(head)
        if start >= 0 and data.startswith(head, start):
            return start == 0 or not (_is_word_byte(data[start - 1]) or data[start - 1] == 46)
    return False


def may_annotate_one(data: bytes, names: Iterable[str]) -> bool:
    """Does a return annotation (``-> ... Name``) name one of ``names``?"""
    for name in names:
        for at in occurrences(data, name):
            line = _line_before(data, at)
            if b"->" in line:
                return True
    return False
