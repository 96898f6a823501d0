"""Names in one file -> qualified names, with Python's scoping rules, and the types the code states.

Calls are resolved after the scope walk (``scopes.ScopeWalk``), when every binding of a scope is known: a
name that a function binds anywhere is local to the whole function, class scopes are invisible to the
functions inside them, ``global``/``nonlocal`` redirect, and a name bound by a parameter, a loop or a
plain assignment is opaque (it is not the imported function of the same name). An expression whose type
the code states (a call of a class, an annotation, ``cast``, an ``isinstance`` test, ...) gives an
instance name (``@pkg.Cls``), so that a receiver's method qualifies as ``pkg.Cls.method``; what other
modules state is asked of the analysis's ``TypeOracle``.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable

from keepref_lint.catalog import RETURN_TYPES, TYPE_ALIASES
from keepref_lint.nodes import dotted_name, last_name, mapping_values, walk_nodes
from keepref_lint.scopes import (
    ANNOTATED,
    ASSIGN,
    CLASS,
    DEF,
    ELEMENT,
    IMPORT,
    SELF,
    WALRUS,
    WITH,
    Scope,
    ScopeWalk,
)

# A qualified name that stands for an instance of the class it names (a receiver's type), not the class:
# ``b = Impl()`` makes ``b`` "@pkg.Impl", so ``b.open`` is "pkg.Impl.open" but ``b()`` calls nothing known.
INSTANCE = "@"
_CASTS = frozenset({"typing.cast", "typing_extensions.cast"})
_TYPEVARS = frozenset({"typing.TypeVar", "typing_extensions.TypeVar"})
_SELF_TYPES = frozenset({"typing.Self", "typing_extensions.Self"})
_UNIONS = frozenset({"typing.Optional", "typing.Union", "typing_extensions.Optional"})
# Qualifiers around a type (``Final[X]``, ``Annotated[X, ...]``), and annotations that state no type.
_QUALIFIERS = frozenset(
    f"{m}.{n}" for m in ("typing", "typing_extensions") for n in ("Final", "ClassVar", "Annotated")
)
_NO_TYPE = frozenset({"typing.Any", "typing_extensions.Any", "builtins.object"}) | _QUALIFIERS
# Collections whose annotation states the type of what a ``for`` loop binds (the one parameter), tuples
# (``tuple[X, ...]``), and mappings (``dict[K, V]``: ``.values()`` gives V).
_ABC = ("typing", "typing_extensions", "collections.abc")
_COLLECTIONS = frozenset(
    {f"builtins.{n}" for n in ("list", "set", "frozenset")}
    | {"collections.deque", "typing.List", "typing.Set", "typing.FrozenSet", "typing.Deque"}
    | {
        f"{m}.{n}"
        for m in _ABC
        for n in (
            "Sequence",
            "MutableSequence",
            "Iterable",
            "Iterator",
            "Collection",
            "AbstractSet",
            "Set",
            "MutableSet",
        )
    }
)
_TUPLES = frozenset({"builtins.tuple", "typing.Tuple", "typing_extensions.Tuple"})
_MAPPINGS = frozenset(
    {"builtins.dict", "collections.defaultdict", "collections.OrderedDict", "typing.Dict"}
    | {"typing.DefaultDict", "typing.OrderedDict"}
    | {f"{m}.{n}" for m in _ABC for n in ("Mapping", "MutableMapping")}
)
_PROPERTIES = frozenset({"property", "cached_property", "functools.cached_property"})

_BUILTIN_NAMES = frozenset(dir(builtins))
_MAX_ALIAS_DEPTH = 20


class FileScopes(ScopeWalk):
    """The scopes, bindings, reads and candidate statements of one module (``ScopeWalk``), and what its
    names and expressions denote."""

    # -- resolution ------------------------------------------------------------------------------
    def binding_scope(self, name: str, scope: Scope) -> Scope | None:
        """The scope whose binding of ``name`` a use in ``scope`` sees; None for builtins/unbound."""
        current: Scope | None = scope
        while current is not None:
            if current.kind == "class" and current is not scope:
                current = current.parent
                continue
            if name in current.globals:
                return self.module if name in self.module.bindings else None
            if name in current.nonlocals:
                current = current.parent
                continue
            if name in current.bindings:
                return current
            current = current.parent
        return None

    def qualify(
        self, expr: ast.expr, scope: Scope, known: Callable[[str], bool], depth: int = 0
    ) -> list[str]:
        """Candidate qualified names for ``expr``, best first; [] if opaque.

        A Name/Attribute chain gives what it names; an expression whose type the code states (a call of
        a class or of a function with a return annotation, an annotated or narrowed name, ``cast``, ...)
        gives that type as an instance name (``@pkg.Cls``), so that ``expr.method`` is ``pkg.Cls.method``.
        """
        if depth > _MAX_ALIAS_DEPTH:
            return []
        key = (id(expr), id(scope))
        found = self._memo.get(key)
        if found is not None:
            return found
        outermost = not self._memo
        self._memo[key] = []  # a cycle (``x = x.next``) finds nothing
        try:
            found = self._memo[key] = self._qualify(expr, scope, known, depth)
        finally:
            if outermost:  # marks and facts may change between two resolutions: memo within one
                self._memo.clear()
        return found

    def _qualify(
        self, expr: ast.expr, scope: Scope, known: Callable[[str], bool], depth: int
    ) -> list[str]:
        if isinstance(expr, ast.Name):
            narrowed = self.narrowed.get(id(expr))
            if narrowed is not None:
                return self._annotation_type(narrowed[0], narrowed[1], known, depth)
            return self._qualify_name(expr.id, scope, known, depth)
        if isinstance(expr, ast.Attribute):
            base = expr.value
            if isinstance(base, ast.Name) and id(base) not in self.narrowed:
                owner = self.binding_scope(base.id, scope)
                if owner is not None:
                    kinds = owner.bindings[base.id]
                    if len(kinds) == 1 and kinds[0][0] == SELF:
                        cls = kinds[0][1]
                        assert isinstance(cls, Scope)
                        return self._class_member(cls, expr.attr, known, depth)
            found: list[str] = []
            for q in self.qualify(base, scope, known, depth + 1):
                if q.startswith(INSTANCE):
                    members = self._instance_member(q[1:], expr.attr, known, depth + 1)
                else:
                    members = [f"{q}.{expr.attr}"]
                found.extend(m for m in members if m not in found)
            return found
        if isinstance(expr, ast.Call):
            return self._call_types(expr, scope, known, depth, awaited=False)
        if isinstance(expr, ast.Await) and isinstance(expr.value, ast.Call):
            return self._call_types(expr.value, scope, known, depth, awaited=True)
        if isinstance(expr, ast.NamedExpr):
            return self.qualify(expr.value, scope, known, depth + 1)
        if isinstance(expr, (ast.IfExp, ast.BoolOp)):
            # ``x if c else y`` and ``x or y``: a type only where every side states the same one.
            sides = [expr.body, expr.orelse] if isinstance(expr, ast.IfExp) else expr.values
            types = [self.qualify(side, scope, known, depth + 1) for side in sides]
            first = types[0]
            if (
                first
                and all(t[0].startswith(INSTANCE) for t in types if t)
                and all(set(t) == set(first) for t in types)
            ):
                return first
        return []

    def _call_types(
        self, call: ast.Call, scope: Scope, known: Callable[[str], bool], depth: int, awaited: bool
    ) -> list[str]:
        """Instance types of a call's result, from what the code states."""
        found: list[str] = []
        for q in self.qualify(call.func, scope, known, depth + 1):
            if q.startswith(INSTANCE):
                continue  # calling an instance: ``__call__`` is not followed
            if q in RETURN_TYPES:
                types = [INSTANCE + RETURN_TYPES[q]]
            elif q in _TYPEVARS:  # a TypeVar stands for its bound
                bound = next((k.value for k in call.keywords if k.arg == "bound"), None)
                types = self._annotation_type(bound, scope, known, depth) if bound else []
            elif q in _CASTS:
                types = (
                    self._annotation_type(call.args[0], scope, known, depth) if call.args else []
                )
            elif q in self.functions:
                function = self.functions[q]
                node = function.node
                is_async = isinstance(node, ast.AsyncFunctionDef)
                if is_async != awaited:
                    continue
                if node.returns is None:  # type: ignore[union-attr]
                    types = self.constructed(function, known, depth)
                    found.extend(t for t in types if t not in found)
                    continue
                cls = function.enclosing_class()
                types = self._annotation_type(
                    node.returns,  # type: ignore[union-attr]
                    function.parent or self.module,
                    known,
                    depth,
                    cls.qualname if cls is not None else None,
                )
            elif q in self.classes:
                types = [] if awaited else [INSTANCE + q]
            else:
                stated = self.types.return_types(q, awaited)
                # A name of another module called without await: a class gives an instance of itself
                # (``pkg.func.m`` is never the qualified name of a marked method, so a function is
                # harmless here).
                types = stated if stated is not None else ([] if awaited else [INSTANCE + q])
            found.extend(t for t in types if t not in found)
        return found

    def _instance_member(
        self, cls: str, attr: str, known: Callable[[str], bool], depth: int
    ) -> list[str]:
        """``instance.attr`` for an instance of ``cls``: the attribute's stated type, and the member."""
        scope = self.classes.get(cls)
        if scope is not None:
            return self._class_member(scope, attr, known, depth)
        found = [f"{cls}.{attr}"]
        stated = self.types.attribute_types(cls, attr)
        if stated:
            found = [*stated, *found]
        return found

    def _annotation_type(
        self,
        annotation: ast.expr,
        scope: Scope,
        known: Callable[[str], bool],
        depth: int,
        self_class: str | None = None,
    ) -> list[str]:
        """Instance types an annotation (or an ``isinstance``/``cast`` class) states."""
        if depth > _MAX_ALIAS_DEPTH:
            return []
        parsed = self._unquoted(annotation)
        if parsed is None:
            return []
        annotation = parsed
        if isinstance(annotation, ast.Constant) and annotation.value is None:
            return []
        if isinstance(annotation, ast.Tuple):  # isinstance(x, (A, B))
            parts = annotation.elts
        elif isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
            parts = [annotation.left, annotation.right]
        elif (
            isinstance(annotation, ast.Subscript)
            and (heads := self.qualify(annotation.value, scope, known, depth + 1))
            and any(q in _UNIONS or q in _QUALIFIERS for q in heads)
        ):
            inner = annotation.slice
            parts = inner.elts if isinstance(inner, ast.Tuple) else [inner]
            if any(q in _QUALIFIERS for q in heads):
                parts = parts[:1]  # Final[X], ClassVar[X], Annotated[X, metadata]
        else:
            parts = None
        if parts is not None:
            found: list[str] = []
            for part in parts:
                found.extend(
                    t
                    for t in self._annotation_type(part, scope, known, depth + 1, self_class)
                    if t not in found
                )
            return found
        if not isinstance(annotation, (ast.Name, ast.Attribute)):
            return []
        found = []
        for q in self.qualify(annotation, scope, known, depth + 1):
            if q.startswith(INSTANCE):  # a TypeVar's bound
                if q not in found:
                    found.append(q)
                continue
            if q in _NO_TYPE:
                continue
            if q in _SELF_TYPES:
                if self_class is not None:
                    found.append(INSTANCE + self_class)
                continue
            typed = INSTANCE + TYPE_ALIASES.get(q, q)
            if typed not in found:
                found.append(typed)
        return found

    def _unquoted(self, annotation: ast.expr) -> ast.expr | None:
        """A string annotation parsed (once), else the annotation; None when it does not parse."""
        if not (isinstance(annotation, ast.Constant) and isinstance(annotation.value, str)):
            return annotation
        if id(annotation) not in self._parsed:
            try:
                parsed: ast.expr | None = ast.parse(annotation.value.strip(), mode="eval").body
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                parsed = None
            self._parsed[id(annotation)] = parsed
        return self._parsed[id(annotation)]

    def constructed(self, function: Scope, known: Callable[[str], bool], depth: int) -> list[str]:
        """The instance type an un-annotated function returns when every ``return`` of its own is
        ``return Cls(...)`` of one class (of this file, or one another module defines): else []."""
        cls = self.constructed_class(function, known, depth)
        if cls is None or not (cls in self.classes or self.types.is_class(cls)):
            return []
        return [INSTANCE + cls]

    def constructed_class(
        self, function: Scope, known: Callable[[str], bool], depth: int
    ) -> str | None:
        """What every ``return`` of the function calls, when that is one name (``return Cls(...)``):
        a class when ``constructed`` finds it is one."""
        returns = self.function_returns.get(id(function))
        if (
            not returns
            or id(function) in self.generators
            or not all(
                isinstance(r.value, ast.Call)
                and isinstance(r.value.func, (ast.Name, ast.Attribute))
                for r in returns
            )
        ):
            return None
        found: str | None = None
        for node in returns:
            called = self.qualify(node.value.func, function, known, depth + 1)  # type: ignore[union-attr]
            if len(called) != 1 or called[0].startswith(INSTANCE) or found not in (None, called[0]):
                return None
            found = called[0]
        return found

    def _element_types(
        self, iterable: ast.expr, scope: Scope, known: Callable[[str], bool], depth: int
    ) -> list[str]:
        """Instance types of what ``for x in iterable`` binds, where the code states them: a display
        whose items all have the same type, a comprehension's item, a name or ``self.attr`` annotated
        as a collection of one type (``list[X]``, ``Sequence[X]``, ``tuple[X, ...]``) or assigned
        one of these, and ``.values()`` of one annotated as a mapping (``dict[K, V]``)."""
        if depth > _MAX_ALIAS_DEPTH:
            return []
        if isinstance(iterable, (ast.List, ast.Tuple, ast.Set)):
            if not iterable.elts or any(isinstance(e, ast.Starred) for e in iterable.elts):
                return []
            types = [self.qualify(e, scope, known, depth + 1) for e in iterable.elts]
            first = _instances(types[0])
            return first if all(set(t) == set(first) for t in types) else []
        if isinstance(iterable, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            inner = self.comprehensions.get(id(iterable))
            return _instances(self.qualify(iterable.elt, inner, known, depth + 1)) if inner else []
        mapping = False
        values_of = mapping_values(iterable)
        if values_of is not None:
            iterable, mapping = values_of, True
        if not isinstance(iterable, (ast.Name, ast.Attribute)):
            return []
        stated = self._stated(iterable, scope)
        if not stated:
            return []
        found: list[str] = []
        for kind, payload, where in stated:
            if kind == ANNOTATED:
                annotation, value = payload  # type: ignore[misc]
                types = self._annotation_element(annotation, where, known, depth + 1, mapping)
                if not types and value is not None and not mapping:
                    types = self._element_types(value, where, known, depth + 1)
            elif kind in (ASSIGN, WALRUS) and not mapping:
                types = self._element_types(payload, where, known, depth + 1)  # type: ignore[arg-type]
            else:
                types = []
            if not types:
                return []  # every binding must state it
            found.extend(t for t in types if t not in found)
        return found

    def _stated(
        self, expr: ast.Name | ast.Attribute, scope: Scope
    ) -> list[tuple[str, object, Scope]]:
        """The bindings of a name, or of ``self.attr`` (its class's annotation and the assignments
        through ``self``), with the scope each is evaluated in; [] when there are none to read."""
        if isinstance(expr, ast.Name):
            if id(expr) in self.narrowed:
                return []
            owner = self.binding_scope(expr.id, scope)
            if owner is None:
                return []
            return [(k, p, owner) for k, p in owner.bindings[expr.id]]
        base = expr.value
        if not isinstance(base, ast.Name) or id(base) in self.narrowed:
            return []
        owner = self.binding_scope(base.id, scope)
        kinds = owner.bindings[base.id] if owner is not None else []
        if len(kinds) != 1 or kinds[0][0] != SELF:
            return []
        cls = kinds[0][1]
        assert isinstance(cls, Scope)
        found = [(k, p, cls) for k, p in cls.bindings.get(expr.attr, ())]
        return found + cls.attr_values.get(expr.attr, [])

    def _annotation_element(
        self,
        annotation: ast.expr,
        scope: Scope,
        known: Callable[[str], bool],
        depth: int,
        mapping: bool,
    ) -> list[str]:
        """The element type a collection annotation states (the value type for a mapping)."""
        annotation = self._unquoted(annotation)  # type: ignore[assignment]
        if not isinstance(annotation, ast.Subscript) or depth > _MAX_ALIAS_DEPTH:
            return []
        heads = self.qualify(annotation.value, scope, known, depth + 1)
        inner = annotation.slice
        items = inner.elts if isinstance(inner, ast.Tuple) else [inner]
        if any(q in _QUALIFIERS for q in heads):  # Final[list[X]], Annotated[list[X], ...]
            return self._annotation_element(items[0], scope, known, depth + 1, mapping)
        if mapping:
            if not any(q in _MAPPINGS for q in heads) or len(items) != 2:
                return []
            element = items[1]
        elif any(q in _TUPLES for q in heads):
            if not (
                len(items) == 2
                and isinstance(items[1], ast.Constant)
                and items[1].value is Ellipsis
            ):
                return []
            element = items[0]
        elif any(q in _COLLECTIONS for q in heads) and len(items) == 1:
            element = items[0]
        else:
            return []
        return self._annotation_type(element, scope, known, depth + 1, _self_class_of(scope))

    def _values(
        self, kind: str, payload: object, scope: Scope, known: Callable[[str], bool], depth: int
    ) -> list[str] | None:
        """Qualified names a binding may denote; None when opaque, [] when it cannot be what is called."""
        if kind in (IMPORT, DEF, CLASS):
            assert isinstance(payload, str)
            return [payload]
        if kind == SELF:
            assert isinstance(payload, Scope)
            cls = payload
            return [cls.qualname] if _is_class_method(scope, cls) else [INSTANCE + cls.qualname]
        if kind == WITH:
            context, is_async = payload  # type: ignore[misc]
            return self._entered(context, is_async, scope, known, depth) or None
        if kind == ELEMENT:
            assert isinstance(payload, ast.expr)
            return self._element_types(payload, scope, known, depth + 1) or None
        if kind == WALRUS:
            kind = ASSIGN
        if kind == ANNOTATED:
            annotation, value = payload  # type: ignore[misc]
            typed = self._annotation_type(annotation, scope, known, depth, _self_class_of(scope))
            if typed:
                return typed
            if value is None:
                return None
            kind, payload = ASSIGN, value
        if kind == ASSIGN:
            assert isinstance(payload, ast.expr)
            if isinstance(payload, ast.Constant) and payload.value is None:
                return []  # ``x = None`` placeholders cannot be what gets called
            return self.qualify(payload, scope, known, depth + 1) or None
        return None

    def _entered(
        self,
        context: ast.expr,
        is_async: bool,
        scope: Scope,
        known: Callable[[str], bool],
        depth: int,
    ) -> list[str]:
        """The type bound by ``with context as name``: what ``__enter__``/``__aenter__`` is annotated
        to return, ``self`` when it returns ``self``, else the context manager's own type."""
        method = "__aenter__" if is_async else "__enter__"
        found: list[str] = []
        for q in self.qualify(context, scope, known, depth + 1):
            if not q.startswith(INSTANCE):
                continue
            cls = self.classes.get(q[1:])
            enter = self.functions.get(f"{q[1:]}.{method}") if cls is not None else None
            if enter is None:
                stated = self.types.return_types(f"{q[1:]}.{method}", is_async)
                types = stated if stated is not None else [q]
            elif enter.node.returns is not None:  # type: ignore[union-attr]
                types = self._annotation_type(
                    enter.node.returns,  # type: ignore[union-attr]
                    cls.parent or self.module,  # type: ignore[union-attr]
                    known,
                    depth,
                    q[1:],
                )
            elif _returns_self(enter):
                types = [q]
            else:
                types = []
            found.extend(t for t in types if t not in found)
        return found

    def _class_member(
        self, cls: Scope, attr: str, known: Callable[[str], bool], depth: int
    ) -> list[str]:
        """``self.attr``: its known type, the class's own member, else what the bases provide. Found once
        per class and name within one outermost resolution, as ``qualify`` finds an expression once: a
        lattice of classes whose bases are shared (``class A2(A1, B1)``, ``class B2(A1, B1)``, ...) is
        otherwise walked once per path, and a class among its own bases (``class F(F, F)``) once per
        path up to the depth limit: 3 ** 20 times."""
        key = ("member", id(cls), attr)
        found = self._memo.get(key)
        if found is not None:
            return found
        outermost = not self._memo
        self._memo[key] = []  # a class met again among its bases adds nothing to what it gives
        try:
            found = self._memo[key] = self._members(cls, attr, known, depth)
        finally:
            if outermost:
                self._memo.clear()
        return found

    def _members(
        self, cls: Scope, attr: str, known: Callable[[str], bool], depth: int
    ) -> list[str]:
        found: list[str] = []
        assigned = [(k, p, cls) for k, p in cls.bindings.get(attr, ()) if k == ANNOTATED]
        assigned += cls.attr_values.get(attr, [])
        for kind, payload, where in assigned:
            values = self._values(kind, payload, where, known, depth)
            if values is None:
                found = []
                break
            found.extend(v for v in values if v not in found)
        for kind, payload in cls.bindings.get(attr, ()):
            function = self.functions.get(payload) if kind == DEF else None  # type: ignore[arg-type]
            if function is not None and _is_property(function) and function.node.returns:  # type: ignore[union-attr]
                found.extend(
                    t
                    for t in self._annotation_type(
                        function.node.returns,  # type: ignore[union-attr]
                        cls.parent or self.module,
                        known,
                        depth + 1,
                        cls.qualname,
                    )
                    if t not in found
                )
        found.append(f"{cls.qualname}.{attr}")
        if attr not in cls.bindings:
            parent = cls.parent or self.module
            for base in cls.bases:
                for q in self.qualify(base, parent, known, depth + 1):
                    if q.startswith(INSTANCE):
                        continue
                    if q in self.classes and self.classes[q] is not cls:
                        members = self._class_member(self.classes[q], attr, known, depth + 1)
                    else:
                        members = self._instance_member(q, attr, known, depth + 1)
                    found.extend(m for m in members if m not in found)
        return found

    def _qualify_name(
        self, name: str, scope: Scope, known: Callable[[str], bool], depth: int
    ) -> list[str]:
        owner = self.binding_scope(name, scope)
        if owner is None:
            for star in self.module.stars:
                if known(f"{star}.{name}"):
                    return [f"{star}.{name}"]
            for star in reversed(self.module.stars):  # the last star import that defines it wins
                if self.types.defines(f"{star}.{name}"):
                    return [f"{star}.{name}"]
            return [f"builtins.{name}"] if name in _BUILTIN_NAMES else []
        found: list[str] = []
        for kind, payload in owner.bindings[name]:
            candidates = self._values(kind, payload, owner, known, depth)
            if candidates is None:
                return []
            for candidate in candidates:
                if candidate not in found:
                    found.append(candidate)
        if len({c for c in found if known(c)}) > 1:
            return []  # bound to different must-retain callables on different paths: do not guess
        return found


def _instances(types: list[str]) -> list[str]:
    """``types`` when they are all instance types, else []."""
    return types if types and all(t.startswith(INSTANCE) for t in types) else []


def _is_class_method(scope: Scope, cls: Scope) -> bool:
    """Is ``scope`` (or the method it is nested in) a classmethod of ``cls``, so that its first
    parameter is the class and not an instance?"""
    current: Scope | None = scope
    while current is not None and current.parent is not cls:
        current = current.parent
    return current is not None and current.self_kind == "class"


def _self_class_of(scope: Scope) -> str | None:
    """The class whose method ``scope`` is (or is nested in), for ``typing.Self``."""
    current: Scope | None = scope
    while current is not None:
        if current.kind == "class":
            return current.qualname
        current = current.parent
    return None


def _is_property(function: Scope) -> bool:
    node = function.node
    return any(
        dotted_name(d) in _PROPERTIES or last_name(d) == "cached_property"
        for d in getattr(node, "decorator_list", ())
    )


def _returns_self(function: Scope) -> bool:
    """Does every ``return`` of the method give its first parameter back?"""
    returns = [
        n
        for n in walk_nodes(function.node)  # type: ignore[arg-type]
        if isinstance(n, ast.Return)
    ]
    return bool(returns) and all(
        isinstance(r.value, ast.Name) and r.value.id == function.self_name for r in returns
    )
