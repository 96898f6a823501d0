"""Records of our own, compared and shown by their fields, without ``dataclasses`` or ``typing``.

``Record`` is a named tuple (a Finding's Edit and Fix, the gates' rules, the wrappers' sites); ``Fields``
and ``Frozen`` are plain classes with a ``__dict__`` (Mark, the catalog's Entry, ModuleSummary, the
rules' Drop). They are made on every run. ``dataclasses`` imports ``inspect`` (with ``dis``,
``tokenize``, ``linecache``) and ``exec``s the methods of each class it decorates, 13-15 ms of a cold
run here; ``collections.namedtuple`` and ``typing.NamedTuple`` ``exec`` too, and ``typing`` itself is
another 3-5 ms. A subclass lists its fields as annotations, in order, and writes its own ``__new__`` or
``__init__`` (one ``vars(self).update(...)``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    R = TypeVar("R", bound="Fields")


class Fields:
    """Equal when of the same class with equal fields (so unhashable); shown as ``Name(field=value,
    ...)``. The fields are the names annotated in the class body and its bases', in order."""

    _fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__annotations__  # the class's own (an empty dict when it has none), from 3.10 on
        cls._fields = (*cls._fields, *(name for name in own if name not in cls._fields))

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({shown})"


class Frozen(Fields):
    """A Fields record that does not change once made: hashed by its fields, attributes not assigned
    after ``__init__`` (which fills ``vars(self)`` directly)."""

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a {type(self).__name__}")


def replace(record: R, **changes: Any) -> R:
    """A copy of ``record`` with the named fields changed (as ``dataclasses.replace``)."""
    unknown = [name for name in changes if name not in record._fields]
    if unknown:
        raise TypeError(f"{type(record).__name__} has no field {unknown[0]!r}")
    copy = object.__new__(type(record))
    vars(copy).update(vars(record))
    vars(copy).update(changes)
    return copy


# Record is on the warm path too (a Finding's Fix), where ``collections`` (with ``operator``,
# ``reprlib``, ``keyword``, ...) and an ``exec`` per named tuple were a tenth of the run.


def _field(index: int) -> property:
    return property(lambda record: record[index], doc=f"Field {index}")


class Record(tuple):
    """A named tuple: a subclass lists its fields as annotations, in order, and gives ``__new__``
    (its signature, with the defaults); each field is then read by name as well as by position.
    Compared, hashed, sorted and pickled as the tuple of its fields."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __init_subclass__(cls) -> None:
        cls._fields = tuple(cls.__annotations__)  # its own: each subclass annotates its fields
        for index, name in enumerate(cls._fields):
            setattr(cls, name, _field(index))

    def __getnewargs__(self) -> tuple:
        return tuple(self)  # unpickled through the subclass's ``__new__``

    def __repr__(self) -> str:
        pairs = zip(self._fields, self, strict=True)
        return f"{type(self).__name__}({', '.join(f'{name}={value!r}' for name, value in pairs)})"

    def _replace(self, **changes: Any) -> Any:
        """A copy with the named fields changed (as ``namedtuple._replace``)."""
        return type(self)(**{**dict(zip(self._fields, self, strict=True)), **changes})
