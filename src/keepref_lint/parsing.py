"""Parsing, once per run: a file's ``ast`` tree and its scope analysis, kept for reuse within a budget.

A file that does not parse (a syntax error, NUL bytes, an undecodable text, a tree too deep) becomes a
one-line InputError instead of a tree.
"""

from __future__ import annotations

import ast

from keepref_lint.project import InputError, SourceFile, too_deep
from keepref_lint.resolve import FileScopes
from keepref_lint.sourcetext import parse_quietly


class ParseCache:
    """``ast`` trees (and their scope analyses) by path, made once per run; parse failures become
    InputErrors."""

    def __init__(self) -> None:
        self.trees: dict[str, ast.Module] = {}
        self.errors: dict[str, InputError] = {}
        self._scopes: dict[str, FileScopes] = {}
        self._kept = 0
        # Where discarded trees go instead of being freed, when the process ends without freeing its
        # objects (engine.held_until_exit); up to HOLD_SOURCE_BYTES of source.
        self.held: list[object] | None = None
        self._held = 0

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
        scopes = self._scopes.pop(file.path, None)
        tree = self.trees.pop(file.path, None)
        if tree is not None:
            self._kept -= len(file.data)
        analysis = scopes or tree
        if analysis is None:
            return  # never parsed (the fragment proof sufficed)
        if self.held is not None and self._held + len(file.data) <= self.HOLD_SOURCE_BYTES:
            # Freeing a tree node by node costs a fifth of parsing it; a process that ends with
            # ``os._exit`` (the command, and its forked workers) hands the memory back at once.
            self.held.append(analysis)
            self._held += len(file.data)
        elif scopes is not None:
            scopes.close()

    def forget(self, file: SourceFile) -> ast.Module:
        """Hand over the file's tree (the fixer mutates it while verifying) and drop what depends on it."""
        tree = self.trees.get(file.path)
        self.discard(file)
        return tree if tree is not None else parse_source(file)

    # Trees take ~20 times the memory of their source: keep them for reuse only up to this much source,
    # so that marking something common (builtins.print) does not hold thousands of trees at once.
    KEEP_SOURCE_BYTES = 5_000_000
    HOLD_SOURCE_BYTES = 4_000_000

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
