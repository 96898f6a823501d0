"""What the engine reports: a Finding, and the Fix (text edits) or the reason there is none."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    """Replace text[start:end] (character offsets into the decoded file) with ``text``."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Fix:
    title: str
    edits: tuple[Edit, ...]
    keeper: str  # where the result is stored: ``self.<attr>`` or a module-private name
    safety: str = "safe"


@dataclass
class Finding:
    path: str
    line: int  # 1-based
    column: int  # 1-based, in UTF-8 bytes like flake8
    code: str
    message: str
    callee: str  # qualified name of what must be retained
    fix: Fix | None = None
    no_fix_reason: str | None = None
    end_line: int = 0
    end_column: int = 0

    @property
    def fixable(self) -> bool:
        return self.fix is not None

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.code)
