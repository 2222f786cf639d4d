"""`@record()` (keep_secrets/record.py) behaves as `@dataclass` on the same class: construction,
defaults, fresh factory defaults, the TypeErrors of a bad call, repr, equality, hashing,
frozen fields and replace()."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keep_secrets import record as rec


def pair(frozen: bool) -> tuple[type[Any], type[Any]]:
    """The same class body as a dataclass and as a record."""

    class Body:
        KIND: ClassVar[str] = "shared"
        key: str
        value: str | None
        revision: int = 1
        labels: tuple[str, ...] = ()

        def shown(self) -> str:
            return f"{self.key}@{self.revision}"

    def make(decorate: Any, factory: Any) -> type[Any]:
        namespace = {name: value for name, value in vars(Body).items() if name not in ("__dict__", "__weakref__")}
        namespace["__annotations__"] = {**Body.__annotations__, "extra": "dict[str, str]"}
        namespace["extra"] = factory(default_factory=dict)
        return decorate(type("Thing", (), namespace))

    return (make(dataclasses.dataclass(frozen=frozen), dataclasses.field),
            make(rec.record(frozen=frozen), rec.field))


def outcome(call: Any) -> tuple[str, object]:
    try:
        return "ok", call()
    except TypeError:
        return "TypeError", None


texts = st.text(max_size=5)
args = st.lists(st.one_of(texts, st.integers(0, 3), st.none()), max_size=6)
kwargs = st.dictionaries(st.sampled_from(["key", "value", "revision", "labels", "extra", "other"]),
                         st.one_of(texts, st.integers(0, 3)), max_size=4)


@given(frozen=st.booleans(), positional=args, named=kwargs)
def test_construction_and_its_errors_match_dataclasses(frozen: bool, positional: list[Any],
                                                        named: dict[str, Any]) -> None:
    classic, ours = pair(frozen)
    kind_a, made_a = outcome(lambda: classic(*positional, **named))
    kind_b, made_b = outcome(lambda: ours(*positional, **named))
    assert kind_a == kind_b
    if kind_a == "ok":
        assert repr(made_a) == repr(made_b)
        assert dataclasses.asdict(made_a) == {name: getattr(made_b, name) for name in rec.fields(made_b)}
        assert made_b.shown() == made_a.shown() and made_b.KIND == "shared"


@given(frozen=st.booleans(), one=st.tuples(texts, texts, st.integers(0, 2)),
       other=st.tuples(texts, texts, st.integers(0, 2)))
def test_equality_and_hashing_match_dataclasses(frozen: bool, one: tuple[str, str, int],
                                                other: tuple[str, str, int]) -> None:
    classic, ours = pair(frozen)
    a, b = ours(*one), ours(*other)
    assert (a == b) == (classic(*one) == classic(*other))
    assert (a == classic(*one)) is False  # another class is never equal, as between dataclasses
    # frozen: hashed by its fields (here unhashable: `extra` is a dict); else unhashable
    assert outcome(lambda: hash(a))[0] == outcome(lambda: hash(classic(*one)))[0] == "TypeError"

    @rec.record(frozen=frozen)
    class Small:
        key: str
        revision: int = 1

    if frozen:
        assert hash(Small(*one[::2])) == hash(Small(*one[::2]))
        assert len({Small(*one[::2]), Small(*one[::2])}) == 1
    else:
        assert outcome(lambda: hash(Small(*one[::2])))[0] == "TypeError"


def test_factory_defaults_are_fresh_and_not_class_attributes() -> None:
    _, ours = pair(False)
    first, second = ours("K", None), ours("K", None)
    first.extra["x"] = "1"
    assert second.extra == {}
    assert "extra" not in vars(ours)


def test_frozen_fields_cannot_change_and_replace_copies() -> None:
    _, ours = pair(True)
    thing = ours("K", "v", 2)
    with pytest.raises(AttributeError):  # FrozenInstanceError is one, as dataclasses' is
        thing.value = "w"
    with pytest.raises(rec.FrozenInstanceError):
        del thing.key
    changed = rec.replace(thing, value="w")
    assert (changed.key, changed.value, changed.revision, thing.value) == ("K", "w", 2, "v")
    with pytest.raises(TypeError):
        rec.replace(thing, nope=1)
    _, mutable = pair(False)
    item = mutable("K", "v")
    item.value = "w"
    assert item.value == "w"


def test_explicit_methods_of_the_class_body_stay() -> None:
    @rec.record(frozen=True)
    class Custom:
        name: str

        def __repr__(self) -> str:
            return "custom"

        def __hash__(self) -> int:
            return 7

    assert repr(Custom("a")) == "custom" and hash(Custom("a")) == 7
    assert Custom("a") == Custom("a") and Custom("a") != Custom("b")


def test_field_order_and_inheritance_are_refused_as_dataclasses_refuse_them() -> None:
    with pytest.raises(TypeError):

        @rec.record()
        class Bad:
            a: int = 1
            b: int

    @rec.record()
    class Base:
        a: int

    with pytest.raises(TypeError):

        @rec.record()
        class Child(Base):
            b: int
