"""The masking rule of SPEC §6, proven for every length (one function for CLI, shell and web)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keep_secrets.formats.mask import EMPTY, mask

_SHAPE = re.compile(r"(?s)(?P<shown>.*?)(?P<stars>\*{8,20})(?: \((?P<n>\d+) chars\))?")


@given(st.text(min_size=1, max_size=300))
def test_never_reveals_more_than_an_eighth(value: str) -> None:
    masked = mask(value)
    assert masked is not None
    k = min(4, len(value) // 8)
    assert masked.startswith(value[:k])
    rest = masked[k:]
    match = _SHAPE.fullmatch(rest)
    assert match is not None and match.group("shown") == "", masked
    assert k <= len(value) // 8
    if len(value) >= 24:
        assert match.group("n") == str(len(value))
    else:
        assert match.group("n") is None and len(match.group("stars")) == 8


@given(st.text(alphabet=st.characters(blacklist_characters="*"), min_size=1, max_size=300))
def test_revealed_prefix_is_exactly_min_4_len_over_8(value: str) -> None:
    masked = mask(value)
    assert masked is not None
    shown = masked.split("*", 1)[0]
    assert shown == value[: min(4, len(value) // 8)]


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (1, "********"),
        (7, "********"),
        (8, "a********"),
        (12, "a********"),
        (15, "a********"),
        (16, "ab********"),
        (23, "ab********"),
        (24, "abc" + "*" * 20 + " (24 chars)"),
        (31, "abc" + "*" * 20 + " (31 chars)"),
        (32, "abcd" + "*" * 20 + " (32 chars)"),
        (40, "abcd" + "*" * 20 + " (40 chars)"),
    ],
)
def test_boundaries(length: int, expected: str) -> None:
    value = ("abcdefghij" * 5)[:length]
    assert mask(value) == expected


def test_empty_and_missing() -> None:
    assert mask("") == EMPTY == "(empty)"
    assert mask(None) is None
