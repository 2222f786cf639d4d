"""`@record()`: the value classes of `keep get`'s path, without the `dataclasses` module.

`@dataclass` builds each method by compiling generated source with `exec` when the class is
defined, and importing `dataclasses` pulls in `inspect` (and through it `ast`, `dis`,
`tokenize`...): together about a third of a `keep get`'s start-up (SPEC §12). `@record()` gives a
class the same `__init__`, `__repr__`, `__eq__`, `__hash__` and (with `frozen=True`) the same
refusal to change a field, from a few shared functions, so defining a class costs next to
nothing. Type checkers read it as a dataclass (`dataclass_transform`, PEP 681).

The subset keep uses: fields are the class's own annotations (no inheritance of fields),
a default is a class attribute or ``field(default_factory=...)``, ``ClassVar`` annotations
are not fields. :func:`replace` is ``dataclasses.replace``. tests/test_record.py holds each
method to what `@dataclass` makes of the same class.
"""

from __future__ import annotations

from operator import attrgetter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_options):
        return lambda function: function


__all__ = ["FrozenInstanceError", "field", "fields", "record", "replace"]

_MISSING = object()


class FrozenInstanceError(AttributeError):
    """Assigning to (or deleting) a field of a `frozen=True` record."""


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], T]) -> T:
    """A field whose default is made fresh for each instance (``dataclasses.field``)."""
    return _Factory(default_factory)  # type: ignore[return-value]


@dataclass_transform(field_specifiers=(field,))
def record(*, frozen: bool = False) -> Callable[[type[T]], type[T]]:
    """Make `cls` a value class of its annotated fields (see the module docstring)."""

    def wrap(cls: type[T]) -> type[T]:
        _build(cls, frozen)
        return cls

    return wrap


def fields(obj: object) -> tuple[str, ...]:
    """The field names of a record (class or instance), in order."""
    names: tuple[str, ...] = obj.__record_fields__  # type: ignore[attr-defined]
    return names


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of record `obj` with `changes` (``dataclasses.replace``)."""
    values = {name: getattr(obj, name) for name in fields(obj)}
    values.update(changes)
    return type(obj)(**values)


def _is_classvar(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return isinstance(text, str) and text.split("[", 1)[0].strip() in ("ClassVar", "typing.ClassVar")


def _build(cls: type, frozen: bool) -> None:
    for base in cls.__mro__[1:]:
        if "__record_fields__" in base.__dict__:
            raise TypeError(f"{cls.__qualname__}: a record cannot inherit another record's fields")
    own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - inspect is what this module avoids
    names = tuple(name for name, annotation in own.items() if not _is_classvar(annotation))
    defaults: list[object] = []
    for name in names:
        default = cls.__dict__.get(name, _MISSING)
        if default is _MISSING and defaults and defaults[-1] is not _MISSING:
            raise TypeError(f"non-default argument {name!r} follows default argument")
        if isinstance(default, _Factory):
            delattr(cls, name)  # as dataclasses does: no shared class attribute for a factory field
        defaults.append(default)
    values = _getter(names)
    methods: dict[str, object] = {
        "__record_fields__": names,
        "__match_args__": names,
        "__init__": _make_init(cls.__qualname__, names, tuple(defaults)),
        "__repr__": _make_repr(names),
        "__eq__": _make_eq(values),
    }
    if frozen:
        methods["__hash__"] = lambda self: hash(values(self))
        methods["__setattr__"] = _make_frozen(cls, names, "assign to")
        methods["__delattr__"] = _make_frozen(cls, names, "delete")
    else:
        methods["__hash__"] = None  # eq without frozen: unhashable, as a dataclass
    # what the class body defines itself stays, as with @dataclass (a class body that defines
    # __eq__ alone gets __hash__ = None from Python: that is not an explicit hash)
    if cls.__dict__.get("__hash__") is not None:
        del methods["__hash__"]
    for name in ("__init__", "__repr__", "__eq__"):
        if name in cls.__dict__:
            del methods[name]
    for name, method in methods.items():
        setattr(cls, name, method)


def _getter(names: tuple[str, ...]) -> Callable[[object], tuple[object, ...]]:
    if not names:
        return lambda _self: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda self: (one(self),)
    many: Callable[[object], tuple[object, ...]] = attrgetter(*names)
    return many


def _make_init(qualname: str, names: tuple[str, ...], defaults: tuple[object, ...]) -> Callable[..., None]:
    count = len(names)
    known = frozenset(names)
    set_field = object.__setattr__

    def __init__(self: object, *args: object, **kwargs: object) -> None:
        given = len(args)
        if given > count:
            raise TypeError(f"{qualname}.__init__() takes {count + 1} positional arguments but {given + 1} were given")
        if kwargs and not known.issuperset(kwargs):
            unknown = next(name for name in kwargs if name not in known)
            raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument {unknown!r}")
        for index, name in enumerate(names):
            if index < given:
                if name in kwargs:
                    raise TypeError(f"{qualname}.__init__() got multiple values for argument {name!r}")
                value = args[index]
            elif name in kwargs:
                value = kwargs[name]
            else:
                value = defaults[index]
                if value is _MISSING:
                    raise TypeError(f"{qualname}.__init__() missing required argument: {name!r}")
                if type(value) is _Factory:
                    value = value.make()
            set_field(self, name, value)

    __init__.__qualname__ = f"{qualname}.__init__"
    return __init__


def _make_repr(names: tuple[str, ...]) -> Callable[[object], str]:
    def __repr__(self: object) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({inner})"

    return __repr__


def _make_eq(values: Callable[[object], tuple[object, ...]]) -> Callable[[object, object], bool]:
    def __eq__(self: object, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return values(self) == values(other)

    return __eq__


def _make_frozen(cls: type, names: tuple[str, ...], verb: str) -> Callable[..., None]:
    frozen_names = frozenset(names)

    def refuse(self: object, name: str, *value: object) -> None:
        # as a frozen dataclass: no attribute of the class itself changes, a subclass's own may
        if type(self) is cls or name in frozen_names:
            raise FrozenInstanceError(f"cannot {verb} field {name!r}")
        if value:
            object.__setattr__(self, name, value[0])
        else:
            object.__delattr__(self, name)

    return refuse
