"""HMAC-SHA256, a constant-time comparison and strict base64 for the local vault, from what the
interpreter has without `hashlib`, `hmac` or `base64`.

`import hmac` loads `_hashlib`, which links the system's OpenSSL library: with `hashlib`'s
BLAKE2 and `base64`'s `struct`, about a fifth of `python -c pass` added to every local
`keep get` (SPEC §12), for two HMACs of a few dozen bytes. The functions here compute the
very same values with CPython's own SHA-256 module (`_sha256`, `_sha2` from 3.12; hashlib's
where neither exists): HMAC is RFC 2104 as the stdlib `hmac` module computes it without
OpenSSL, base64 is `base64.b64encode` / `b64decode(validate=True)`. tests/test_primitives.py
holds each to the stdlib function on random inputs.
"""

from __future__ import annotations

import binascii
import importlib
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: `keep get` start-up)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["b64decode", "b64encode", "equal", "hmac_sha256"]

_BLOCK = 64  # SHA-256's block size in bytes
_INNER = bytes(x ^ 0x36 for x in range(256))
_OUTER = bytes(x ^ 0x5C for x in range(256))


def _sha256_constructor() -> Callable[..., Any]:
    # CPython names it _sha256 up to 3.11, _sha2 from 3.12 (a failed import searches sys.path)
    for name in ("_sha2", "_sha256") if sys.version_info >= (3, 12) else ("_sha256", "_sha2"):
        try:
            found: Callable[..., Any] = importlib.import_module(name).sha256
        except (ImportError, AttributeError):
            continue
        return found
    import hashlib  # pragma: no cover - an interpreter without CPython's own SHA-256

    return hashlib.sha256  # pragma: no cover


def _compare_constructor() -> Callable[[bytes, bytes], bool]:
    try:
        from _operator import _compare_digest  # what hmac.compare_digest is without OpenSSL
    except ImportError:  # pragma: no cover - another interpreter
        import hmac

        return hmac.compare_digest
    return _compare_digest


_sha256 = _sha256_constructor()
#: constant-time `a == b` of two bytes (hmac.compare_digest)
equal = _compare_constructor()


def hmac_sha256(key: bytes, *parts: bytes) -> bytes:
    """`hmac.new(key, b"".join(parts), hashlib.sha256).digest()`."""
    if len(key) > _BLOCK:
        key = _sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = _sha256(key.translate(_INNER))
    for part in parts:
        inner.update(part)
    outer = _sha256(key.translate(_OUTER))
    outer.update(inner.digest())
    digest: bytes = outer.digest()
    return digest


def b64encode(data: bytes) -> str:
    """`base64.b64encode(data).decode()`."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64decode(text: str) -> bytes:
    """`base64.b64decode(text, validate=True)`: ValueError (binascii.Error is one) for
    anything but the base64 alphabet with its padding."""
    data = text.encode("ascii")  # UnicodeEncodeError is a ValueError, as base64's own
    return binascii.a2b_base64(data, strict_mode=True)  # what validate=True is (Python 3.11+)
