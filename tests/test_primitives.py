"""keep_secrets.vaults.primitives computes exactly what the stdlib's hmac, hashlib and base64
compute (the local vault's row MACs and key encodings must not change by a bit)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keep_secrets.vaults import primitives

keys = st.one_of(st.binary(max_size=200), st.binary(min_size=32, max_size=32), st.binary(min_size=64, max_size=65))


@given(key=keys, parts=st.lists(st.binary(max_size=100), max_size=6))
def test_hmac_sha256_is_the_stdlib_hmac(key: bytes, parts: list[bytes]) -> None:
    assert primitives.hmac_sha256(key, *parts) == hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def test_hmac_sha256_known_answer() -> None:
    # RFC 4231 test case 2
    assert primitives.hmac_sha256(b"Jefe", b"what do ya want ", b"for nothing?").hex() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


@given(a=st.binary(max_size=40), b=st.binary(max_size=40))
def test_equal_is_compare_digest(a: bytes, b: bytes) -> None:
    assert primitives.equal(a, b) == hmac.compare_digest(a, b) == (a == b)
    assert primitives.equal(a, a)


@given(data=st.binary(max_size=100))
def test_b64encode_round_trips_as_base64(data: bytes) -> None:
    text = primitives.b64encode(data)
    assert text == base64.b64encode(data).decode()
    assert primitives.b64decode(text) == data


def _stdlib(text: str) -> tuple[str, bytes]:
    try:
        return "ok", base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "error", b""


def _ours(text: str) -> tuple[str, bytes]:
    try:
        return "ok", primitives.b64decode(text)
    except ValueError:  # binascii.Error is a ValueError
        return "error", b""


@given(text=st.one_of(st.text(alphabet="ABCabc019+/=-_ \n\x00é", max_size=12),
                      st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode())))
def test_b64decode_accepts_and_refuses_what_base64_validate_does(text: str) -> None:
    assert _ours(text) == _stdlib(text)


@pytest.mark.parametrize("text", ["", "=", "==", "A===", "AAAA=AAA", "AA==\n", "AA", "é", "AAA=AA=="])
def test_b64decode_edge_cases(text: str) -> None:
    assert _ours(text) == _stdlib(text)
