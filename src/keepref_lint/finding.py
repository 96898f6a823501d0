"""What the engine reports: a Finding, and the Fix (text edits) or the reason there is none; a file's
findings and its fixed text as one FileResult."""

from __future__ import annotations

from keepref_lint.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from keepref_lint.project import SourceFile


class Edit(Record):
    """Replace text[start:end] (character offsets into the decoded file) with ``text``."""

    __slots__ = ()
    start: int
    end: int
    text: str

    def __new__(cls, start: int, end: int, text: str) -> Edit:
        return tuple.__new__(cls, (start, end, text))


class Fix(Record):
    """``keeper`` is where the result is stored: ``self.<attr>`` or a module-private name, or for a task
    the local bound to it. ``holder`` is None, or for a task (set name, its annotation, the index in the
    module body where the set is defined): the module-level set that keeps the task until it finishes.
    ``unwrap``: the statement was a one-element tuple (``start(),``) and the fix also removes the comma."""

    __slots__ = ()
    title: str
    edits: tuple[Edit, ...]
    keeper: str
    safety: str
    holder: tuple[str, str, int] | None
    unwrap: bool

    def __new__(
        cls,
        title: str,
        edits: tuple[Edit, ...],
        keeper: str,
        safety: str = "safe",
        holder: tuple[str, str, int] | None = None,
        unwrap: bool = False,
    ) -> Fix:
        return tuple.__new__(cls, (title, edits, keeper, safety, holder, unwrap))


class Finding:
    __slots__ = (
        "callee",
        "code",
        "column",
        "end_column",
        "end_line",
        "fix",
        "line",
        "message",
        "no_fix_reason",
        "path",
    )

    def __init__(
        self,
        path: str,
        line: int,  # 1-based
        column: int,  # 1-based, in UTF-8 bytes like flake8
        code: str,
        message: str,
        callee: str,  # qualified name of what must be retained
        fix: Fix | None = None,
        no_fix_reason: str | None = None,
        end_line: int = 0,
        end_column: int = 0,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.code = code
        self.message = message
        self.callee = callee
        self.fix = fix
        self.no_fix_reason = no_fix_reason
        self.end_line = end_line
        self.end_column = end_column

    def _fields(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is Finding and self._fields() == other._fields()  # type: ignore[union-attr]

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Finding({fields})"

    def to_plain(self) -> tuple:
        """Built-in types only (the results cache stores these with ``marshal``)."""
        fix = self.fix
        plain_fix = (
            None
            if fix is None
            else (fix.title, tuple(map(tuple, fix.edits)), fix.keeper, fix.safety, fix.holder)
        )
        return (
            self.path, self.line, self.column, self.code, self.message, self.callee, plain_fix,
            self.no_fix_reason, self.end_line, self.end_column,
        )  # fmt: skip

    @classmethod
    def from_plain(cls, plain: tuple) -> Finding:
        path, line, column, code, message, callee, fix, reason, end_line, end_column = plain
        if fix is not None:
            title, edits, keeper, safety, holder = fix
            holder = tuple(holder) if holder is not None else None
            fix = Fix(title, tuple(Edit(*edit) for edit in edits), keeper, safety, holder)
        return cls(path, line, column, code, message, callee, fix, reason, end_line, end_column)

    @property
    def fixable(self) -> bool:
        return self.fix is not None

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.code)


class FileResult:
    __slots__ = ("diff", "file", "findings", "new_data", "written")

    def __init__(self, file: SourceFile, findings: list[Finding] | None = None) -> None:
        self.file = file
        self.findings = findings if findings is not None else []
        self.new_data: bytes | None = None  # set by fix when the file changes
        self.written = False  # the new data is on disk
        self.diff = ""
