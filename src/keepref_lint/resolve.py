"""Names in one file -> qualified names, with Python's scoping rules.

One pass over the file's ``ast`` records every scope (module, class, function, lambda, comprehension), what
each name is bound to in it, and which names are read. Calls are then resolved after the pass, when every
binding of a scope is known: a name that a function binds anywhere is local to the whole function, class
scopes are invisible to the functions inside them, ``global``/``nonlocal`` redirect, and a name bound by a
parameter, a loop or a plain assignment is opaque (it is not the imported function of the same name).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from keepref_lint.catalog import RETURN_TYPES, TYPE_ALIASES
from keepref_lint.deep import run_deep

# Binding kinds.
IMPORT = "import"  # payload: qualified name
DEF = "def"  # payload: qualified name
CLASS = "class"  # payload: qualified name
ASSIGN = "assign"  # payload: the assigned expression (an alias if it names something)
SELF = "self"  # first parameter of a method; payload: the class Scope
ANNOTATED = "annotated"  # payload: (annotation, assigned value or None)
OPAQUE = "opaque"  # parameters, loop targets, ...: nothing known
WITH = "with"  # ``with x as name``; payload: (context expression, is async)
WALRUS = "walrus"  # ``(name := value)``; payload: the value (typed like an assignment)
ELEMENT = "element"  # ``for name in iterable``; payload: the iterable (typed by its element type)

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
_DYNAMIC_CALLS = frozenset({"locals", "vars", "eval", "exec"})
_MAX_ALIAS_DEPTH = 20


def resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str | None:
    """The absolute module named by ``from <level dots><name> import ...`` inside ``module``."""
    if level == 0:
        return name
    parts = module.split(".") if module else []
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        if level - 1 > len(parts):
            return None
        parts = parts[: len(parts) - (level - 1)]
    if name:
        parts.append(name)
    return ".".join(parts) or None


def import_bindings(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool
) -> Iterator[tuple[str, str]]:
    """(local name, qualified name) for each name an import statement binds; ``*`` for a star import."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                yield alias.asname, alias.name
            else:
                top = alias.name.partition(".")[0]
                yield top, top
        return
    base = resolve_relative(module, is_package, node.level, node.module)
    if base is None:
        return
    for alias in node.names:
        if alias.name == "*":
            yield "*", base
        else:
            yield alias.asname or alias.name, f"{base}.{alias.name}"


def dotted_name(expr: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))


def last_name(expr: ast.expr) -> str | None:
    """The last name of a name, attribute or call of one: ``must_retain`` for the decorator
    ``@x.must_retain(...)``, ``show`` for ``plt.show()``."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Name):
        return expr.id
    return None


@dataclass(eq=False)
class Scope:
    kind: str  # module | class | function | lambda | comprehension
    qualname: str
    parent: Scope | None
    node: ast.AST | None = None
    bindings: dict[str, list[tuple[str, object]]] = field(default_factory=dict)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    children: list[Scope] = field(default_factory=list)
    stars: list[str] = field(default_factory=list)
    dynamic: bool = False  # calls locals()/vars()/eval()/exec(): every local may be read
    # Methods: the first parameter and what it is ("instance" or "class"); static methods are marked.
    self_name: str | None = None
    self_kind: str | None = None
    is_static: bool = False
    # Classes: base expressions and the attributes that methods assign through self.
    bases: list[ast.expr] = field(default_factory=list)
    assigned_attrs: set[str] = field(default_factory=set)
    # Classes: what ``self.<attr>`` is assigned or annotated with, and in which scope (receiver types).
    attr_values: dict[str, list[tuple[str, object, Scope]]] = field(default_factory=dict)

    def bind(self, name: str, kind: str, payload: object = None) -> None:
        self.bindings.setdefault(name, []).append((kind, payload))

    @property
    def child_prefix(self) -> str:
        if self.kind in ("function", "lambda", "comprehension"):
            return f"{self.qualname}.<locals>"
        return self.qualname

    def enclosing_class(self) -> Scope | None:
        """For a method scope, its class."""
        parent = self.parent
        return parent if parent is not None and parent.kind == "class" else None

    def read_anywhere(self, name: str) -> bool:
        """Is ``name`` read in this scope or any scope nested in it?"""
        if self.dynamic or name in self.reads:
            return True
        return any(child.read_anywhere(name) for child in self.children)


@dataclass(eq=False)
class Statement:
    """An expression statement or an assignment, with where it stands, and the nodes of its value where a
    call's result is used in part (see ``partial_use``), collected by the scope walk; None when the
    statement was made without that walk."""

    node: ast.Expr | ast.Assign | ast.AnnAssign
    scope: Scope
    in_loop: bool
    partial_uses: list[ast.expr] | None = None


# Nodes with nothing under them that the walk looks at: constants, contexts and operators.
_LEAVES = frozenset(
    {ast.Constant}
    | {
        kind
        for base in (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
        for kind in base.__subclasses__()
    }
)
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(kind: type) -> tuple[str, ...]:
    """The fields of a node type that may hold nodes the walk visits (not ``ctx``, ``op``, ``ops``)."""
    return tuple(name for name in kind._fields if name not in ("ctx", "op", "ops"))


def first_line(stmt: ast.stmt) -> int:
    """A statement's first line, its decorators' included."""
    return min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", None) or ())])


def mapping_values(node: ast.expr) -> ast.expr | None:
    """``m`` when ``node`` is ``m.values()`` (called with no arguments), else None."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "values"
        and not node.args
        and not node.keywords
    ):
        return node.func.value
    return None


def walk_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node under ``tree`` (itself included) but contexts, operators and constants: what
    ``ast.walk`` gives with those left out, in another order, at a fraction of its cost."""
    found: list[ast.AST] = []
    todo = [tree]
    pop, push, add = todo.pop, todo.append, found.append
    children = _CHILD_FIELDS
    while todo:
        node = pop()
        add(node)
        kind = type(node)
        fields = children.get(kind)
        if fields is None:
            fields = children[kind] = _child_fields(kind)
        for name in fields:
            child = getattr(node, name, None)
            if type(child) is list:
                for item in child:
                    if isinstance(item, ast.AST) and type(item) not in _LEAVES:
                        push(item)
            elif isinstance(child, ast.AST) and type(child) not in _LEAVES:
                push(child)
    return found


def partial_use(node: ast.AST) -> bool:
    """Is ``node`` a place where a call's result is used only in part: ``X().name`` (and the call
    ``X().name(...)``), ``f(key=X())``, or ``X()`` as the test of ``a if X() else b``? The rules' attribute,
    argument and condition shapes are found among these, so a value with none is not walked again."""
    if isinstance(node, ast.Attribute):
        return isinstance(node.value, ast.Call)
    if isinstance(node, ast.Call):
        func = node.func
        return (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call)) or any(
            isinstance(keyword.value, ast.Call) for keyword in node.keywords
        )
    return isinstance(node, ast.IfExp) and isinstance(node.test, ast.Call)


class TypeOracle:
    """What other modules state about types: a project function's return annotation, a class's
    annotated attributes. This base knows nothing (a file on its own); the project index may know more."""

    def return_types(self, qualname: str, awaited: bool) -> list[str] | None:
        """Instance types (``@pkg.Cls``) a call of ``qualname`` returns; None when unknown."""
        return None

    def attribute_types(self, cls: str, attr: str) -> list[str] | None:
        """Instance types of ``cls().attr``; None when unknown."""
        return None

    def defines(self, qualname: str) -> bool:
        """Does another module define the class or function ``qualname`` (``pkg.mod.Cls``) itself?"""
        return False

    def is_class(self, qualname: str) -> bool:
        """Is ``qualname`` a class another module defines?"""
        return False


class FileScopes:
    """The scopes, bindings, reads and candidate statements of one module."""

    def __init__(self, tree: ast.Module, module: str, is_package: bool) -> None:
        self.module_name = module
        self.is_package = is_package
        self.types = TypeOracle()
        self._start(tree)
        self._dispatch: dict[type, Callable[[ast.AST], None]] = {
            ast.FunctionDef: self._function,
            ast.AsyncFunctionDef: self._function,
            ast.Lambda: self._lambda,
            ast.ClassDef: self._class,
            ast.ListComp: self._comprehension,
            ast.SetComp: self._comprehension,
            ast.DictComp: self._comprehension,
            ast.GeneratorExp: self._comprehension,
            ast.Name: self._name,
            ast.Attribute: self._attribute,
            ast.Assign: self._assign,
            ast.AnnAssign: self._ann_assign,
            ast.AugAssign: self._aug_assign,
            ast.Expr: self._expr,
            ast.Return: self._return,
            ast.For: self._for,
            ast.AsyncFor: self._for,
            ast.While: self._while,
            ast.Import: self._import,
            ast.ImportFrom: self._import,
            ast.Global: self._global,
            ast.Nonlocal: self._nonlocal,
            ast.ExceptHandler: self._except,
            ast.NamedExpr: self._named_expr,
            ast.Call: self._call,
            ast.IfExp: self._if_exp,
            ast.MatchAs: self._match_name,
            ast.MatchStar: self._match_name,
            ast.MatchMapping: self._match_mapping,
            ast.If: self._if,
            ast.Assert: self._assert,
            ast.With: self._with,
            ast.AsyncWith: self._with,
            ast.Yield: self._yield,
            ast.YieldFrom: self._yield,
        }
        try:
            self._walk(tree)
        except (
            RecursionError
        ):  # a valid file nested past the limit: ``a + a + ...``, ``x.a().a()...``
            self.close()
            self._start(tree)
            run_deep(self._walk, tree)
        finally:
            self._dispatch.clear()  # its bound methods refer back to self

    def _start(self, tree: ast.Module) -> None:
        self.module = Scope("module", self.module_name, None, tree)
        self.scope = self.module
        self.loop_depth = 0
        self.statements: list[Statement] = []
        self.returns: list[tuple[ast.Return, Scope]] = []
        self.return_partial_uses: dict[
            int, list[ast.expr]
        ] = {}  # id of a Return -> its partial uses
        self._partial_uses: list[ast.expr] | None = None  # of the statement value being walked
        self._value_root: ast.expr | None = None  # that value
        self._method: Scope | None = None  # innermost method whose self name is in reach
        self.all_scopes: list[Scope] = [self.module]
        # Receiver types: classes and functions of this file by qualified name, and the reads of a name
        # that an ``isinstance`` test narrows (id of the Name node -> (class expression, scope)).
        self.classes: dict[str, Scope] = {}
        self.functions: dict[str, Scope] = {}
        self.narrowed: dict[int, tuple[ast.expr, Scope]] = {}
        # Element and return types: each comprehension's scope (by node id), each function's returns.
        self.comprehensions: dict[int, Scope] = {}
        self.function_returns: dict[int, list[ast.Return]] = {}
        self.generators: set[int] = set()  # functions that yield (their returns do not type a call)
        self._narrowing: list[tuple[str, ast.expr, Scope]] = []
        # Expressions resolved within one outermost ``qualify`` (by node and scope): a receiver chain's
        # candidates branch at each step, so without it a chain of attributes costs exponential time.
        # String annotations are parsed once (and kept: the memo is keyed by node identity).
        self._memo: dict[tuple[int, int], list[str]] = {}
        self._parsed: dict[int, ast.expr | None] = {}

    def _walk(self, tree: ast.Module) -> None:
        for stmt in tree.body:
            self.visit(stmt)

    def close(self) -> None:
        """Break the links between scopes (parent and children, methods and their class) so that the
        analysis and its syntax tree are freed as soon as they are dropped, without the cycle collector
        (which a run keeps off: see engine.run)."""
        for scope in self.all_scopes:
            scope.parent = None
            scope.children.clear()
            scope.attr_values.clear()
            scope.bindings.clear()
        self.all_scopes.clear()
        self.classes.clear()
        self.functions.clear()
        self.narrowed.clear()
        self.comprehensions.clear()
        self.function_returns.clear()
        self.generators.clear()
        self._memo.clear()
        self._parsed.clear()
        self.statements.clear()
        self.returns.clear()
        self.return_partial_uses.clear()
        self.scope = self.module
        self._method = None

    # -- the walk --------------------------------------------------------------------------------
    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        handler = self._dispatch.get(kind)
        if handler is not None:
            handler(node)
            return
        fields = _CHILD_FIELDS.get(kind)
        if fields is None:
            fields = _CHILD_FIELDS[kind] = _child_fields(kind)
        for name in fields:  # ast.iter_child_nodes, without the contexts, operators and constants
            child = getattr(node, name, None)
            if type(child) is list:
                for item in child:
                    if isinstance(item, ast.AST) and type(item) not in _LEAVES:
                        self.visit(item)
            elif isinstance(child, ast.AST) and type(child) not in _LEAVES:
                self.visit(child)

    def _visit_all(self, nodes: list) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node)

    def _visit_value(self, value: ast.expr) -> list[ast.expr]:
        """Walk a statement's value, returning its partial uses (in walk order; not those of a lambda
        inside the value, which runs later, but those of a value that is itself a lambda)."""
        saved, self._partial_uses = self._partial_uses, []
        saved_root, self._value_root = self._value_root, value
        self.visit(value)
        found, self._partial_uses = self._partial_uses, saved
        self._value_root = saved_root
        return found

    def _push(self, kind: str, name: str, node: ast.AST) -> Scope:
        scope = Scope(kind, f"{self.scope.child_prefix}.{name}" if name else "", self.scope, node)
        self.scope.children.append(scope)
        self.all_scopes.append(scope)
        self.scope = scope
        return scope

    def _pop(self) -> None:
        assert self.scope.parent is not None
        self.scope = self.scope.parent

    def _bind(
        self, name: str, kind: str, payload: object = None, scope: Scope | None = None
    ) -> None:
        """Bind ``name`` in ``scope`` (the current one); an ``isinstance`` narrowing of it ends here."""
        scope = scope or self.scope
        scope.bind(name, kind, payload)
        for i, (narrowed, cls, where) in enumerate(self._narrowing):
            if narrowed == name and where is scope:
                self._narrowing[i] = ("", cls, where)  # in place: ``_if`` deletes by position

    def _arguments(self, args: ast.arguments) -> None:
        """Defaults and annotations are evaluated in the enclosing scope."""
        self._visit_all(args.defaults)
        self._visit_all(args.kw_defaults)
        for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg):
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)

    def _bind_params(self, scope: Scope, args: ast.arguments) -> None:
        for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg):
            if arg is None:
                continue
            if arg.annotation is not None and arg not in (args.vararg, args.kwarg):
                scope.bind(arg.arg, ANNOTATED, (arg.annotation, None))
            else:
                scope.bind(arg.arg, OPAQUE)

    def _self_attribute(self, target: ast.expr) -> str | None:
        """``x`` when ``target`` is ``self.x`` inside a method (or a function nested in one)."""
        if (
            self._method is not None
            and isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == self._method.self_name
            and self._method.enclosing_class() is not None
        ):
            return target.attr
        return None

    def _record_attr(self, target: ast.expr, kind: str, payload: object) -> None:
        attr = self._self_attribute(target)
        if attr is not None:
            cls = self._method.enclosing_class()  # type: ignore[union-attr]
            cls.attr_values.setdefault(attr, []).append((kind, payload, self.scope))

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._visit_all(node.decorator_list)
        self._arguments(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        outer = self.scope
        scope = self._push("function", node.name, node)
        self._bind(node.name, DEF, scope.qualname, outer)
        self.functions.setdefault(scope.qualname, scope)
        decorators = {last_name(d) for d in node.decorator_list}
        saved_method = self._method
        if outer.kind == "class":
            positional = [*node.args.posonlyargs, *node.args.args]
            if "staticmethod" in decorators:
                scope.is_static = True
                self._method = None
            elif positional:
                scope.self_name = positional[0].arg
                scope.self_kind = "class" if "classmethod" in decorators else "instance"
                self._method = scope
        self._bind_params(scope, node.args)
        if scope.self_name is not None:
            scope.bindings[scope.self_name] = [(SELF, outer)]
        saved_loop, self.loop_depth = self.loop_depth, 0
        saved_narrowing, self._narrowing = self._narrowing, []
        self._visit_all(node.body)
        self._narrowing = saved_narrowing
        self.loop_depth = saved_loop
        self._method = saved_method
        self._pop()

    def _lambda(self, node: ast.Lambda) -> None:
        saved = self._partial_uses
        if node is not self._value_root:
            self._partial_uses = None  # a lambda in the value runs later: not the value's use
        self._arguments(node.args)
        scope = self._push("lambda", "<lambda>", node)
        self._bind_params(scope, node.args)
        self.visit(node.body)
        self._pop()
        self._partial_uses = saved

    def _class(self, node: ast.ClassDef) -> None:
        self._visit_all(node.decorator_list)
        self._visit_all(node.bases)
        self._visit_all(node.keywords)
        outer = self.scope
        scope = self._push("class", node.name, node)
        # A parametrised base (``FlowHandler[Ctx, Result]``) is its class.
        scope.bases = [b.value if isinstance(b, ast.Subscript) else b for b in node.bases]
        self._bind(node.name, CLASS, scope.qualname, outer)
        self.classes.setdefault(scope.qualname, scope)
        saved_loop, self.loop_depth = self.loop_depth, 0
        saved_method, self._method = self._method, None
        self._visit_all(node.body)
        self.loop_depth = saved_loop
        self._method = saved_method
        self._pop()

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
    ) -> None:
        generators = node.generators
        self.visit(generators[0].iter)  # evaluated in the enclosing scope
        self.comprehensions[id(node)] = self._push("comprehension", "<comprehension>", node)
        for index, generator in enumerate(generators):
            if index:
                self.visit(generator.iter)
            self.visit(generator.target)
            self._visit_all(generator.ifs)
        if isinstance(node, ast.DictComp):
            self.visit(node.key)
            self.visit(node.value)
        else:
            self.visit(node.elt)
        self._pop()

    def _name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.scope.reads.add(node.id)
            for name, cls, scope in reversed(self._narrowing):
                if name == node.id and scope is self.scope:
                    self.narrowed[id(node)] = (cls, scope)
                    break
        else:
            self._bind(node.id, OPAQUE)

    def _attribute(self, node: ast.Attribute) -> None:
        if self._partial_uses is not None and isinstance(node.value, ast.Call):
            self._partial_uses.append(node)
        if (
            not isinstance(node.ctx, ast.Load)
            and self._method is not None
            and isinstance(node.value, ast.Name)
            and node.value.id == self._method.self_name
        ):
            cls = self._method.enclosing_class()
            if cls is not None:
                cls.assigned_attrs.add(node.attr)
        self.visit(node.value)

    def _assign(self, node: ast.Assign) -> None:
        partial_uses = self._visit_value(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name) and len(node.targets) == 1:
                self._bind(target.id, ASSIGN, node.value)
            else:
                self._record_attr(target, ASSIGN, node.value)
                self.visit(target)
        self.statements.append(Statement(node, self.scope, self.loop_depth > 0, partial_uses))

    def _ann_assign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        partial_uses = self._visit_value(node.value) if node.value is not None else []
        if isinstance(node.target, ast.Name):
            if node.value is not None or self.scope.kind in ("function", "class"):
                # A bare annotation makes a function's name local, and types a class's attribute.
                self._bind(node.target.id, ANNOTATED, (node.annotation, node.value))
        else:
            self._record_attr(node.target, ANNOTATED, (node.annotation, node.value))
            self.visit(node.target)
        if node.value is not None:
            self.statements.append(Statement(node, self.scope, self.loop_depth > 0, partial_uses))

    def _aug_assign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.scope.reads.add(node.target.id)
            self._bind(node.target.id, OPAQUE)
        else:
            self.visit(node.target)

    def _yield(self, node: ast.Yield | ast.YieldFrom) -> None:
        self.generators.add(id(self.scope))
        if node.value is not None:
            self.visit(node.value)

    def _return(self, node: ast.Return) -> None:
        self.function_returns.setdefault(id(self.scope), []).append(node)
        if node.value is not None:
            self.return_partial_uses[id(node)] = self._visit_value(node.value)
            self.returns.append((node, self.scope))

    def _expr(self, node: ast.Expr) -> None:
        partial_uses = self._visit_value(node.value)
        self.statements.append(Statement(node, self.scope, self.loop_depth > 0, partial_uses))

    def _for(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            self._bind(node.target.id, ELEMENT, node.iter)
        else:
            self.visit(node.target)
        self.loop_depth += 1
        self._visit_all(node.body)
        self.loop_depth -= 1
        self._visit_all(node.orelse)

    def _while(self, node: ast.While) -> None:
        self.visit(node.test)
        self.loop_depth += 1
        self._visit_all(node.body)
        self.loop_depth -= 1
        self._visit_all(node.orelse)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        for local, qualname in import_bindings(node, self.module_name, self.is_package):
            if local == "*":
                self.scope.stars.append(qualname)
            else:
                self._bind(local, IMPORT, qualname)

    def _global(self, node: ast.Global) -> None:
        self.scope.globals.update(node.names)

    def _nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.nonlocals.update(node.names)

    def _except(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind(node.name, OPAQUE)
        self._visit_all(node.body)

    def _named_expr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        scope = self.scope
        if scope.kind != "comprehension":
            self._bind(node.target.id, WALRUS, node.value)
            return
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
        self._bind(node.target.id, OPAQUE, None, scope)  # its value reads the comprehension's names

    def _call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in _DYNAMIC_CALLS:
            self.scope.dynamic = True
        if self._partial_uses is not None and partial_use(node):
            self._partial_uses.append(node)
        self.visit(node.func)
        self._visit_all(node.args)
        self._visit_all(node.keywords)

    def _if_exp(self, node: ast.IfExp) -> None:
        if self._partial_uses is not None and isinstance(node.test, ast.Call):
            self._partial_uses.append(node)
        self.visit(node.test)
        self.visit(node.body)
        self.visit(node.orelse)

    def _isinstance_tests(self, test: ast.expr) -> list[tuple[str, ast.expr, Scope]]:
        """``isinstance(name, Cls)`` (alone or in an ``and``): the narrowings the test states."""
        tests = (
            test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
        )
        found = []
        for item in tests:
            if (
                isinstance(item, ast.Call)
                and isinstance(item.func, ast.Name)
                and item.func.id == "isinstance"
                and len(item.args) == 2
                and isinstance(item.args[0], ast.Name)
            ):
                found.append((item.args[0].id, item.args[1], self.scope))
        return found

    def _if(self, node: ast.If) -> None:
        self.visit(node.test)
        saved = len(self._narrowing)
        self._narrowing.extend(self._isinstance_tests(node.test))
        self._visit_all(node.body)
        del self._narrowing[saved:]
        self._visit_all(node.orelse)

    def _assert(self, node: ast.Assert) -> None:
        self.visit(node.test)
        if node.msg is not None:
            self.visit(node.msg)
        self._narrowing.extend(self._isinstance_tests(node.test))  # until the end of the block

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        is_async = isinstance(node, ast.AsyncWith)
        for item in node.items:
            self.visit(item.context_expr)
            if isinstance(item.optional_vars, ast.Name):
                self._bind(item.optional_vars.id, WITH, (item.context_expr, is_async))
            elif item.optional_vars is not None:
                self.visit(item.optional_vars)
        self._visit_all(node.body)

    def _match_name(self, node: ast.MatchAs | ast.MatchStar) -> None:
        if getattr(node, "pattern", None) is not None:
            self.visit(node.pattern)  # type: ignore[attr-defined]
        if node.name:
            self._bind(node.name, OPAQUE)

    def _match_mapping(self, node: ast.MatchMapping) -> None:
        self._visit_all(node.keys)
        self._visit_all(node.patterns)
        if node.rest:
            self._bind(node.rest, OPAQUE)

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
        """``self.attr``: its known type, the class's own member, else what the bases provide."""
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
