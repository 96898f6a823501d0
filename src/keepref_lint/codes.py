"""One registry of rule codes: what each code is called, its message, its fix title and fix safety.

Every front end (CLI, flake8 plugin, codemod, SARIF output, ``explain``) reads codes from here; a test checks
that each code has its page under ``docs/rules/``.
"""

from __future__ import annotations


class Rule:
    """One code's registry entry (a plain class: the warm path imports this module, and a namedtuple
    would bring in ``collections`` and an ``exec`` for a few attributes)."""

    __slots__ = ("code", "fix_safety", "fix_title", "name", "summary")

    def __init__(
        self, *, code: str, name: str, summary: str, fix_title: str, fix_safety: str
    ) -> None:
        self.code = code
        self.name = name
        self.summary = summary
        self.fix_title = fix_title
        self.fix_safety = fix_safety

    def __repr__(self) -> str:
        return f"Rule(code={self.code!r}, name={self.name!r})"


_TASK_FIX = "; a task is bound to a local, added to a module-level set and discarded from it when it finishes"

KR001 = Rule(
    code="KR001",
    name="dropped-must-retain-result",
    summary="The result of a must-retain call is discarded by an expression statement.",
    fix_title=(
        "Store the result in an attribute (or module-private name) with a keep-alive comment"
        + _TASK_FIX
    ),
    fix_safety="safe",
)
KR002 = Rule(
    code="KR002",
    name="must-retain-result-in-dead-local",
    summary=(
        "The result of a must-retain call is stored only in a local name that is never read, "
        "so it dies when the function returns."
    ),
    fix_title="Store the result in an attribute instead of the dead local"
    + _TASK_FIX.replace("bound to a local", "kept in its local"),
    fix_safety="safe",
)

KR003 = Rule(
    code="KR003",
    name="dropped-inferred-must-retain-result",
    summary=(
        "The result of a project function that returns a must-retain result (a wrapper, found by "
        "inference) is dropped or kept only in a dead local."
    ),
    fix_title=(
        "Store the result in an attribute (or module-private name) with a keep-alive comment"
        + _TASK_FIX
    ),
    fix_safety="safe",
)

KR004 = Rule(
    code="KR004",
    name="only-attribute-of-result-kept",
    summary=(
        "Only an attribute of a must-retain call's result is used (``TemporaryDirectory().name``, "
        "``create_task(...).add_done_callback(...)``); the object itself is not kept."
    ),
    fix_title="No automatic fix: keep the object in a name and read the attribute from it",
    fix_safety="none",
)

RULES: dict[str, Rule] = {rule.code: rule for rule in (KR001, KR002, KR003, KR004)}


def is_selected(code: str, select: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    """ruff's and flake8's prefix semantics: the longest matching prefix between select and ignore
    wins, and ignore wins a tie (``--select KR001 --ignore KR001`` reports nothing). ``ALL`` is the
    empty prefix."""
    best_select = max((len(_prefix(p)) for p in select if code.startswith(_prefix(p))), default=-1)
    best_ignore = max((len(_prefix(p)) for p in ignore if code.startswith(_prefix(p))), default=-1)
    return best_select >= 0 and best_select > best_ignore


def _prefix(selector: str) -> str:
    return "" if selector == "ALL" else selector


def is_known_selector(selector: str) -> bool:
    """``ALL``, or a prefix of some rule's code (``KR``, ``KR00``, ``KR001``)."""
    return selector == "ALL" or any(code.startswith(selector) for code in RULES)


def rule_page(code: str) -> str | None:
    """The rule's documentation page (docs/rules/CODE.md, shipped inside the package)."""
    from importlib import resources

    try:
        return (
            resources.files("keepref_lint")
            .joinpath("rule_docs", f"{code}.md")
            .read_text(encoding="utf-8")
        )
    except OSError:
        return None


# Where the rule pages are published; SARIF links each rule to its page here.
DOCS_BASE_URL = "https://github.com/keepref-lint/keepref-lint/blob/main/docs/rules"


def rule_doc_url(code: str) -> str:
    return f"{DOCS_BASE_URL}/{code}.md"
