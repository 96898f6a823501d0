"""One file's scopes and bindings, from one walk of its ``ast``.

The walk (``ScopeWalk``) records every scope (module, class, function, lambda, comprehension), what each
name is bound to in it and with which kind of binding, which names are read, and the statements the
rules look at (with each value's partial uses, ``partial_use``). What a name then denotes is worked out
after the walk, when every binding of a scope is known: ``resolve.FileScopes``. Also here: what an
import statement binds (``import_bindings``) and the ``TypeOracle`` an analysis carries (what other
modules state about types; a file on its own knows nothing).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

from keepref_lint.deep import run_deep
from keepref_lint.nodes import _CHILD_FIELDS, _LEAVES, _child_fields, last_name

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

_DYNAMIC_CALLS = frozenset({"locals", "vars", "eval", "exec"})


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


class Scope:
    """One scope of a file, as the scope walk fills it in. Compared by identity (a plain class, not a
    dataclass: see records.py)."""

    kind: str  # module | class | function | lambda | comprehension
    qualname: str
    parent: Scope | None
    node: ast.AST | None
    bindings: dict[str, list[tuple[str, object]]]
    globals: set[str]
    nonlocals: set[str]
    reads: set[str]
    children: list[Scope]
    stars: list[str]
    dynamic: bool  # calls locals()/vars()/eval()/exec(): every local may be read
    # Methods: the first parameter and what it is ("instance" or "class"); static methods are marked.
    self_name: str | None
    self_kind: str | None
    is_static: bool
    # Classes: base expressions and the attributes that methods assign through self.
    bases: list[ast.expr]
    assigned_attrs: set[str]
    # Classes: what ``self.<attr>`` is assigned or annotated with, and in which scope (receiver types).
    attr_values: dict[str, list[tuple[str, object, Scope]]]

    def __init__(
        self, kind: str, qualname: str, parent: Scope | None, node: ast.AST | None = None
    ) -> None:
        vars(self).update(
            kind=kind,
            qualname=qualname,
            parent=parent,
            node=node,
            bindings={},
            globals=set(),
            nonlocals=set(),
            reads=set(),
            children=[],
            stars=[],
            dynamic=False,
            self_name=None,
            self_kind=None,
            is_static=False,
            bases=[],
            assigned_attrs=set(),
            attr_values={},
        )

    def __repr__(self) -> str:
        return f"Scope({self.kind!r}, {self.qualname!r})"

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


class Statement:
    """An expression statement or an assignment, with where it stands, and the nodes of its value where a
    call's result is used in part (see ``partial_use``), collected by the scope walk; None when the
    statement was made without that walk. Compared by identity."""

    __slots__ = ("in_loop", "node", "partial_uses", "scope")

    def __init__(
        self,
        node: ast.Expr | ast.Assign | ast.AnnAssign,
        scope: Scope,
        in_loop: bool,
        partial_uses: list[ast.expr] | None = None,
    ) -> None:
        self.node = node
        self.scope = scope
        self.in_loop = in_loop
        self.partial_uses = partial_uses

    def __repr__(self) -> str:
        return (
            f"Statement({type(self.node).__name__} at line {self.node.lineno}, in {self.scope!r})"
        )


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


class ScopeWalk:
    """The walk of one module: its scopes, bindings, reads and candidate statements. It asks nothing of
    types; ``resolve.FileScopes`` adds resolution, whose memo ``_start`` sets up and ``close`` clears
    with the rest."""

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
        self._memo: dict[tuple[object, ...], list[str]] = {}  # also ``("member", id(cls), attr)``
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
        """Visit ``node``: its handler if its kind has one, else its children, depth first in field
        order (``ast.iter_child_nodes`` without the contexts, operators and constants). The nodes
        without a handler are walked with a stack of their own, not a call each: most nodes of a file
        are such (calls' arguments, operators' operands, subscripts)."""
        dispatch = self._dispatch
        handler = dispatch.get(type(node))
        if handler is not None:
            handler(node)
            return
        todo = [node]
        pop, push = todo.pop, todo.append
        while todo:
            node = pop()
            kind = type(node)
            handler = dispatch.get(kind)
            if handler is not None:
                handler(node)
                continue
            fields = _CHILD_FIELDS.get(kind)
            if fields is None:
                fields = _CHILD_FIELDS[kind] = _child_fields(kind)
            # The children as ``nodes.walk_nodes`` finds them, inlined in both: a helper call per node
            # makes this walk 15% slower (measured over litellm's files). They go on the stack last
            # first, so the first is taken first.
            at = len(todo)
            for name in fields:
                child = getattr(node, name, None)
                if type(child) is list:
                    for item in child:
                        if isinstance(item, ast.AST) and type(item) not in _LEAVES:
                            push(item)
                elif isinstance(child, ast.AST) and type(child) not in _LEAVES:
                    push(child)
            todo[at:] = todo[at:][::-1]

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
