"""The Mark: something whose call result must be kept, wherever it was found (a marker decorator, the
configuration, the catalog or wrapper inference), and the short form of a long chain of wrappers.

(The runtime ``@must_retain`` decorator itself is ``marker.py``.)
"""

from __future__ import annotations

from keepref_lint.records import Frozen


class Mark(Frozen):
    """Something whose call result must be kept."""

    qualname: str
    kind: str  # function | method | class | unknown (from config)
    source: str  # decorator | config
    attr: str | None
    reason: str | None
    is_async: bool
    location: str | None  # "path:line" of the marked definition
    entry: str | None  # the catalog entry, for source == "catalog"
    returns: Mark | None  # for source == "inferred": the must-retain call it returns
    path: str | None  # absolute path of the definition (decorator and inferred marks)
    line: int  # line of its ``def``

    def __init__(
        self,
        qualname: str,
        kind: str,
        source: str,
        attr: str | None = None,
        reason: str | None = None,
        is_async: bool = False,
        location: str | None = None,
        entry: str | None = None,
        returns: Mark | None = None,
        path: str | None = None,
        line: int = 0,
    ) -> None:
        vars(self).update(
            qualname=qualname,
            kind=kind,
            source=source,
            attr=attr,
            reason=reason,
            is_async=is_async,
            location=location,
            entry=entry,
            returns=returns,
            path=path,
            line=line,
        )

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

    @property
    def owner_class(self) -> str | None:
        """The last name of the class of a project method found by a marker or inferred (not one of a
        class inside a function): the resolver reaches such a method only through that class, a
        subclass or an alias (``Prefilter.owners``). None for anything else."""
        parts = self.qualname.split(".")
        if (
            self.kind == "method"
            and self.source in ("decorator", "inferred")
            and "<locals>" not in parts[:-1]
            and len(parts) > 2
        ):
            return parts[-2]
        return None


def bounded_chain(steps: list[str], ends: int = 2) -> list[str]:
    """A long chain of wrappers as its first steps, a count, and its last step (one line stays short)."""
    if len(steps) <= 2 * ends:
        return steps
    return [*steps[:ends], f"... ({len(steps) - ends - 1:,} more)", steps[-1]]
