"""Settings: ``[tool.keepref-lint]`` in pyproject.toml plus command-line overrides, with clear errors."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

TOOL_KEY = "keepref-lint"
DEFAULT_DECORATOR = "must_retain"
# Patterns for values a run is given; ``re`` is imported only when a value is checked (a warm run with
# no configuration checks none, and the import is a sixth of its start-up).
_QUALNAME = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_<>][A-Za-z0-9_<>]*)*"
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = rf"{_IDENT}(\.{_IDENT})*"
_CODE_PREFIX = r"[A-Z]{1,3}[0-9]{0,3}"
PROJECT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")


def _is(pattern: str, text: str) -> bool:
    import re

    return re.fullmatch(pattern, text) is not None


def _keyword(name: str) -> bool:
    import keyword  # only when a value is checked, as ``re``

    return keyword.iskeyword(name)


class ConfigError(Exception):
    """A configuration problem; the message is one line that names the file and the cause."""


class RetainSpec:
    """A qualified name whose call result must be kept, with optional fix attribute and reason.

    A plain class, not a named tuple: this module is loaded on every run (see finding.py)."""

    __slots__ = ("attr", "qualname", "reason")

    def __init__(self, qualname: str, attr: str | None = None, reason: str | None = None) -> None:
        self.qualname = qualname
        self.attr = attr
        self.reason = reason

    def _fields(self) -> tuple[str, str | None, str | None]:
        return (self.qualname, self.attr, self.reason)

    def __eq__(self, other: object) -> bool:
        return type(other) is RetainSpec and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"RetainSpec(qualname={self.qualname!r}, attr={self.attr!r}, reason={self.reason!r})"


class Settings:
    """One run's settings (read-only by convention: ``replace`` makes a changed copy).

    A plain class, not a dataclass: it is loaded on every run, warm ones included (see finding.py).
    """

    __slots__ = (
        "_fingerprint",
        "cache",
        "cache_dir",
        "catalog",
        "catalog_disable",
        "config_path",
        "decorators",
        "exclude",
        "force_exclude",
        "ignore",
        "must_retain",
        "per_file_ignores",
        "respect_gitignore",
        "root",
        "select",
        "skip_generated",
    )

    def __init__(
        self,
        root: str | os.PathLike[str],
        config_path: str | None = None,
        must_retain: Mapping[str, RetainSpec] | None = None,
        decorators: tuple[str, ...] = (DEFAULT_DECORATOR,),
        exclude: tuple[str, ...] = (),
        select: tuple[str, ...] = ("KR",),
        ignore: tuple[str, ...] = (),
        skip_generated: bool = True,
        cache: bool = True,
        cache_dir: str | None = None,
        catalog: bool = True,
        catalog_disable: tuple[str, ...] = (),
        per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = (),
        respect_gitignore: bool = True,
        force_exclude: bool = False,
    ) -> None:
        self.root = os.fspath(root)  # absolute; a string, as every path a warm run touches
        self.config_path = config_path
        self.must_retain: Mapping[str, RetainSpec] = must_retain if must_retain is not None else {}
        self.decorators = decorators
        self.exclude = exclude
        self.select = select
        self.ignore = ignore
        self.skip_generated = skip_generated
        self.cache = cache
        self.cache_dir = cache_dir
        self.catalog = catalog
        self.catalog_disable = catalog_disable
        # (glob, codes) pairs as ruff's per-file-ignores; a glob starting with "!" matches the others.
        self.per_file_ignores = per_file_ignores
        self.respect_gitignore = respect_gitignore
        self.force_exclude = force_exclude
        self._fingerprint: str | None = None

    def replace(self, **changes: Any) -> Settings:
        fields = {name: getattr(self, name) for name in self.__slots__ if name != "_fingerprint"}
        return Settings(**{**fields, **changes})

    def __repr__(self) -> str:
        return f"Settings(root={self.root!r}, fingerprint={self.fingerprint()!r})"

    def fingerprint(self) -> str:
        """A stable text that changes whenever a setting that affects findings changes."""
        if self._fingerprint is None:  # computed once: the flake8 plugin asks per file
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _compute_fingerprint(self) -> str:
        specs = sorted(
            (s.qualname, s.attr or "", s.reason or "") for s in self.must_retain.values()
        )
        return repr(
            (
                specs,
                sorted(self.decorators),
                self.select,
                self.ignore,
                self.skip_generated,
                self.catalog,
                sorted(self.catalog_disable),
                self.per_file_ignores,
                self.respect_gitignore,
            )
        )


def parse_retain_arg(text: str, origin: str) -> RetainSpec:
    """``pkg.mod.func`` or ``pkg.mod.func:attr`` (the CLI and flake8 option form)."""
    qualname, _, attr = text.strip().partition(":")
    return _retain_spec(qualname, attr or None, None, origin)


def _retain_spec(qualname: Any, attr: Any, reason: Any, origin: str) -> RetainSpec:
    if not isinstance(qualname, str) or not _is(_QUALNAME, qualname) or "." not in qualname:
        raise ConfigError(
            f"{origin}: must-retain entry {qualname!r} is not a qualified name like 'pkg.module.func'"
        )
    if attr is not None and (not isinstance(attr, str) or not _is(_IDENT, attr) or _keyword(attr)):
        # (A keyword, ``class``, cannot be an attribute name either: the decorator refuses it too.)
        raise ConfigError(f"{origin}: attr {attr!r} for {qualname} is not a Python identifier")
    if reason is not None and not isinstance(reason, str):
        raise ConfigError(f"{origin}: reason for {qualname} must be a string")
    return RetainSpec(qualname, attr, reason)


def _str_list(table: Mapping[str, Any], key: str, origin: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if (
        isinstance(value, str)
        or not isinstance(value, list)
        or not all(isinstance(v, str) for v in value)
    ):
        raise ConfigError(f"{origin}: '{key}' must be a list of strings")
    return tuple(value)


def _codes(values: Iterable[str], key: str, origin: str) -> tuple[str, ...]:
    codes = tuple(v.strip().upper() for v in values if v.strip())
    if not codes:
        return codes  # (the registry is not imported to check nothing)
    from keepref_lint.codes import RULES, is_known_selector

    for code in codes:
        if code != "ALL" and not _is(_CODE_PREFIX, code):
            raise ConfigError(
                f"{origin}: '{key}' has {code!r}, which is not a code or code prefix like KR001"
            )
        if not is_known_selector(code):  # as ruff does: a typo or another tool's code is an error
            raise ConfigError(
                f"{origin}: '{key}' has unknown rule selector {code!r} "
                f"(keepref-lint's codes: {', '.join(RULES)}, or a prefix of them, or ALL)"
            )
    return codes


def _retain_entries(raw: Any, origin: str) -> dict[str, RetainSpec]:
    if not isinstance(raw, list):
        raise ConfigError(f"{origin}: 'must-retain' must be a list of names or tables")
    specs: dict[str, RetainSpec] = {}
    for item in raw:
        if isinstance(item, str):
            spec = parse_retain_arg(item, origin)
        elif isinstance(item, dict):
            unknown = set(item) - {"name", "attr", "reason"}
            if unknown:
                raise ConfigError(
                    f"{origin}: must-retain entry has unknown key(s) {sorted(unknown)}"
                )
            if "name" not in item:
                raise ConfigError(f"{origin}: must-retain table entry needs 'name'")
            spec = _retain_spec(item["name"], item.get("attr"), item.get("reason"), origin)
        else:
            raise ConfigError(f"{origin}: must-retain entry {item!r} must be a string or a table")
        specs[spec.qualname] = spec
    return specs


_KNOWN_KEYS = {
    "must-retain",
    "decorators",
    "exclude",
    "select",
    "ignore",
    "skip-generated",
    "cache-dir",
    "catalog",
    "catalog-disable",
    "extend-select",
    "extend-ignore",
    "per-file-ignores",
    "respect-gitignore",
    "force-exclude",
}


def settings_from_table(
    table: Mapping[str, Any], root: str, origin: str, path: str | None
) -> Settings:
    unknown = set(table) - _KNOWN_KEYS
    if unknown:
        raise ConfigError(
            f"{origin}: unknown key(s) in [tool.keepref-lint]: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(_KNOWN_KEYS))})"
        )
    decorators = _decorator_names(_str_list(table, "decorators", origin), origin)
    skip_generated = table.get("skip-generated", True)
    if not isinstance(skip_generated, bool):
        raise ConfigError(f"{origin}: 'skip-generated' must be true or false")
    catalog = table.get("catalog", True)
    if not isinstance(catalog, bool):
        raise ConfigError(f"{origin}: 'catalog' must be true or false")
    catalog_disable = _catalog_ids(_str_list(table, "catalog-disable", origin), origin)
    cache_dir = table.get("cache-dir")
    if cache_dir is not None and not isinstance(cache_dir, str):
        raise ConfigError(f"{origin}: 'cache-dir' must be a path string")
    if cache_dir is not None:
        cache_dir = os.path.realpath(os.path.join(root, cache_dir))
    settings = Settings(
        root=root,
        cache_dir=cache_dir,
        config_path=path,
        must_retain=_retain_entries(table.get("must-retain", []), origin),
        decorators=(DEFAULT_DECORATOR, *decorators),
        exclude=_str_list(table, "exclude", origin),
        select=_codes(_str_list(table, "select", origin), "select", origin) or ("KR",),
        ignore=_codes(_str_list(table, "ignore", origin), "ignore", origin),
        skip_generated=skip_generated,
        catalog=catalog,
        catalog_disable=catalog_disable,
        **_convention_keys(table, origin),
    )
    return extended_codes(settings, table, origin)


def _convention_keys(table: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """ruff's keys: extend-select / extend-ignore (added to select / ignore), per-file-ignores,
    respect-gitignore and force-exclude."""
    values: dict[str, Any] = {}
    for key in ("respect-gitignore", "force-exclude"):
        if key in table:
            if not isinstance(table[key], bool):
                raise ConfigError(f"{origin}: '{key}' must be true or false")
            values[key.replace("-", "_")] = table[key]
    raw = table.get("per-file-ignores", {})
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{origin}: 'per-file-ignores' must be a table of globs to lists of codes"
        )
    pairs = []
    for pattern, codes in raw.items():
        if (
            isinstance(codes, str)
            or not isinstance(codes, list)
            or not all(isinstance(code, str) for code in codes)
        ):
            raise ConfigError(f"{origin}: per-file-ignores for {pattern!r} must be a list of codes")
        pairs.append((pattern, _codes(codes, f"per-file-ignores.{pattern}", origin)))
    if pairs:
        values["per_file_ignores"] = tuple(pairs)
    return values


def extended_codes(settings: Settings, table: Mapping[str, Any], origin: str) -> Settings:
    """``extend-select`` / ``extend-ignore`` of the file, added after its select / ignore."""
    more_select = _codes(_str_list(table, "extend-select", origin), "extend-select", origin)
    more_ignore = _codes(_str_list(table, "extend-ignore", origin), "extend-ignore", origin)
    if not (more_select or more_ignore):
        return settings
    return settings.replace(
        select=(*settings.select, *more_select), ignore=(*settings.ignore, *more_ignore)
    )


def per_file_ignored(settings: Settings, path: str) -> tuple[str, ...]:
    """The codes ``per-file-ignores`` ignores in ``path`` (absolute): a glob matches the path relative
    to the root, a folder above it, or the file's name; ``!glob`` matches every file the glob does not."""
    if not settings.per_file_ignores:
        return ()
    import fnmatch

    root = settings.root.rstrip(os.sep) + os.sep
    rel = (path[len(root) :] if path.startswith(root) else path).replace(os.sep, "/")
    name = rel.rpartition("/")[2]
    ignored: list[str] = []
    for pattern, codes in settings.per_file_ignores:
        negated = pattern.startswith("!")
        glob = pattern[1:] if negated else pattern
        glob = glob[2:] if glob.startswith("./") else glob.rstrip("/")
        matched = (
            fnmatch.fnmatchcase(rel, glob)
            or fnmatch.fnmatchcase(name, glob)
            or rel.startswith(glob + "/")
        )
        if matched != negated:
            ignored.extend(codes)
    return tuple(ignored)


def _decorator_names(names: Iterable[str], origin: str) -> tuple[str, ...]:
    """The last names of decorators given as ``name`` or ``pkg.module.name``; ConfigError unless each
    is a dotted name of identifiers."""
    found = []
    for raw in names:
        name = raw.strip()
        if not _is(_DOTTED, name):
            raise ConfigError(
                f"{origin}: decorator name {raw!r} is not an identifier or a dotted name like 'pkg.keep'"
            )
        found.append(name.rpartition(".")[2])
    return tuple(found)


def _catalog_ids(ids: tuple[str, ...], origin: str) -> tuple[str, ...]:
    from keepref_lint.catalog import ENTRIES

    for entry_id in ids:
        if entry_id not in ENTRIES:
            raise ConfigError(
                f"{origin}: 'catalog-disable' has unknown entry {entry_id!r} (known: {', '.join(ENTRIES)})"
            )
    return ids


def _read_tool_table(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if TOOL_KEY.encode() not in raw:
        return None  # no table of ours (and no TOML parser to import on every run)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        return None
    table = tool.get(TOOL_KEY)
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.{TOOL_KEY}] must be a table")
    return table


def folders_up(start: str) -> Iterable[str]:
    """``start`` and every folder above it, nearest first."""
    folder = start
    while True:
        yield folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return
        folder = parent


def find_root(start: str) -> str | None:
    """The nearest folder at or above ``start`` that looks like a project (pyproject, setup, .git)."""
    for folder in folders_up(start):
        if any(os.path.exists(os.path.join(folder, marker)) for marker in PROJECT_MARKERS):
            return folder
    return None


def _start_folder(paths: Iterable[str]) -> str:
    """The folder the paths have in common (paths that do not exist are left out: they are errors of
    their own, and ``/missing`` must not make ``/`` the project)."""
    resolved = [os.path.abspath(p) for p in paths if os.path.lexists(p)] or [os.getcwd()]
    folders = [p if os.path.isdir(p) else os.path.dirname(p) for p in resolved]
    return os.path.commonpath(folders)


def load_settings(paths: Iterable[str], config: str | None = None) -> Settings:
    """Find and read the configuration for a run over ``paths``.

    The config is the ``--config`` file, else the nearest pyproject.toml with a [tool.keepref-lint] table
    at or above the paths. The project root (the tree the index covers) is the config's folder, else the
    nearest folder with a project marker, else the current folder when the paths lie under it.
    """
    start = _start_folder(paths)
    if config is not None:
        if not os.path.isfile(config):
            raise ConfigError(f"{config}: config file not found")
        table = _read_tool_table(config) or {}
        root = os.path.dirname(os.path.realpath(config))
        return settings_from_table(table, root, config, config)
    for folder in folders_up(start):
        candidate = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(candidate):
            table = _read_tool_table(candidate)
            if table is not None:
                return settings_from_table(table, folder, candidate, candidate)
    root = find_root(start)
    if root is None:
        cwd = os.getcwd()
        root = cwd if start == cwd or start.startswith(cwd.rstrip(os.sep) + os.sep) else start
    return Settings(root=root)


def with_overrides(
    settings: Settings,
    *,
    must_retain: Iterable[str] = (),
    decorators: Iterable[str] = (),
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    no_cache: bool = False,
    cache_dir: str | None = None,
    no_catalog: bool = False,
    extend_select: Iterable[Iterable[str]] = (),
    extend_ignore: Iterable[Iterable[str]] = (),
    respect_gitignore: bool | None = None,
    force_exclude: bool = False,
) -> Settings:
    """Apply command-line values on top of the file's settings."""
    specs = dict(settings.must_retain)
    for text in must_retain:
        spec = parse_retain_arg(text, "--must-retain")
        specs[spec.qualname] = spec
    changes: dict[str, Any] = {"must_retain": specs}
    extra = _decorator_names([d for d in decorators if d.strip()], "--decorator")
    if extra:
        changes["decorators"] = tuple(dict.fromkeys((*settings.decorators, *extra)))
    if select is not None:
        changes["select"] = _codes(select, "select", "--select") or ("KR",)
    if ignore is not None:
        changes["ignore"] = _codes(ignore, "ignore", "--ignore")
    extra_exclude = tuple(exclude)
    if extra_exclude:
        changes["exclude"] = (*settings.exclude, *extra_exclude)
    if no_cache:
        changes["cache"] = False
    if no_catalog:
        changes["catalog"] = False
    if cache_dir:
        changes["cache_dir"] = os.path.realpath(cache_dir)
    more_select = _codes([c for group in extend_select for c in group], "select", "--extend-select")
    if more_select:
        changes["select"] = (*changes.get("select", settings.select), *more_select)
    more_ignore = _codes([c for group in extend_ignore for c in group], "ignore", "--extend-ignore")
    if more_ignore:
        changes["ignore"] = (*changes.get("ignore", settings.ignore), *more_ignore)
    if respect_gitignore is not None:
        changes["respect_gitignore"] = respect_gitignore
    if force_exclude:
        changes["force_exclude"] = True
    return settings.replace(**changes)
