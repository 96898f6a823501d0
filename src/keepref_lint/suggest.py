"""``keepref-lint suggest``: functions inferred must-retain that nobody marked, and marking them.

Inference (KR003) already reports the callers; marking the wrapper makes the intent explicit, lets it
carry ``attr=``/``reason=``, and turns its callers' findings into KR001/KR002. ``--apply`` adds
``@must_retain`` directly above the ``def`` (innermost, since the marker changes nothing at run time) and
``from keepref_lint import must_retain`` through libcst's AddImportsVisitor, which places it among the
module's imports. Each rewritten file is checked to parse and written atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from keepref_lint.apply import atomic_write
from keepref_lint.finding import Edit
from keepref_lint.marks import Mark, bounded_chain
from keepref_lint.project import InputError, display_path
from keepref_lint.sourcetext import SourceText, apply_edits, parse_quietly


@dataclass
class Suggestion:
    mark: Mark
    path: str  # absolute

    @property
    def chain(self) -> str:
        return " -> ".join(bounded_chain([f"{m.qualname}()" for m in self.mark.chain[1:]]))

    def line(self) -> str:
        return (
            f"{display_path(self.path)}:{self.mark.line}: add @must_retain to "
            f"{self.mark.qualname.rpartition('.')[2]}() (it returns {self.chain})"
        )

    def as_dict(self) -> dict[str, object]:
        """For ``suggest --format json``: where, what, and why."""
        return {
            "path": display_path(self.path),
            "line": self.mark.line,
            "qualname": self.mark.qualname,
            "returns": [m.qualname for m in self.mark.chain[1:]],
            "suggestion": f"add @must_retain to {self.mark.qualname.rpartition('.')[2]}()",
        }


def suggestions(marks: dict[str, Mark], within: list[str]) -> list[Suggestion]:
    """Inferred marks defined in (or below) the absolute paths ``within``."""
    found = []
    prefixes = [folder.rstrip(os.sep) + os.sep for folder in within]
    for mark in marks.values():
        if mark.source != "inferred" or mark.path is None or "<locals>" in mark.qualname:
            continue
        path = mark.path
        if path in within or path.startswith(tuple(prefixes)):
            found.append(Suggestion(mark, path))
    return sorted(found, key=lambda s: (s.path, s.mark.line))


def apply_suggestions(items: list[Suggestion]) -> list[InputError]:
    """Mark every suggested function; one error line per file that could not be rewritten."""
    import libcst as cst
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import AddImportsVisitor

    errors: list[InputError] = []
    by_file: dict[str, list[Suggestion]] = {}
    for item in items:
        by_file.setdefault(item.path, []).append(item)
    for path, group in by_file.items():
        display = display_path(path)
        try:
            with open(path, "rb") as handle:
                original = handle.read()
            source = SourceText(original, display)
            edits = []
            for item in group:
                start = source.line_starts[item.mark.line - 1]
                line = source.line(item.mark.line)
                indent = line[: len(line) - len(line.lstrip(" \t"))]
                edits.append(
                    Edit(start, start, f"{indent}@must_retain{source.newline_of(item.mark.line)}")
                )
            decorated = source.encode(apply_edits(source.text, edits))
            context = CodemodContext()
            AddImportsVisitor.add_needed_import(context, "keepref_lint", "must_retain")
            module = AddImportsVisitor(context).transform_module(cst.parse_module(decorated))
            new_data = module.bytes
            parse_quietly(new_data)
            atomic_write(path, original, new_data, display)
        except InputError as error:
            errors.append(error)
        except (OSError, SyntaxError, cst.ParserSyntaxError) as exc:
            errors.append(InputError(display, f"not marked: {exc}"))
    return errors
