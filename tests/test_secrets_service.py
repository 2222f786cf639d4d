"""Unit tests of the pure parts of services/secret_ops.py (value checks, stdin decoding, JSON
fields, random values, dates); the commands themselves are tested end to end elsewhere."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keep_secrets.model import NotFound, Secret, UsageError, Version
from keep_secrets.names import MAX_VALUE_BYTES, validate_value
from keep_secrets.services import secret_ops as svc

NOW = datetime(2026, 3, 15, 12, 30, tzinfo=UTC)


def test_check_value_limits() -> None:
    assert validate_value("") == ""
    assert validate_value("x" * MAX_VALUE_BYTES) == "x" * MAX_VALUE_BYTES
    with pytest.raises(UsageError, match="Value too large: 65537 bytes"):
        validate_value("x" * (MAX_VALUE_BYTES + 1))
    # the limit counts UTF-8 bytes, not characters
    with pytest.raises(UsageError, match="Value too large"):
        validate_value("é" * (MAX_VALUE_BYTES // 2 + 1))
    with pytest.raises(UsageError, match="NUL"):
        validate_value("a\x00b")
    with pytest.raises(UsageError, match="UTF-8"):
        validate_value(b"fake-\xff".decode("utf-8", "surrogateescape"))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"v\n", "v"),
        (b"v", "v"),
        (b"v\n\n", "v\n"),
        (b"v\r\n", "v\r"),
        (b"\n", ""),
        (b"", ""),
        ("ü\n".encode(), "ü"),
    ],
)
def test_decode_stdin(data: bytes, expected: str) -> None:
    assert svc.decode_stdin(data) == expected


def test_decode_stdin_refuses_binary() -> None:
    with pytest.raises(UsageError, match=r"not valid UTF-8 \(byte 0\)"):
        svc.decode_stdin(b"\x89PNG")
    with pytest.raises(UsageError, match="NUL"):
        svc.decode_stdin(b"a\x00")


def test_lookup_keys_are_looser_than_write_keys() -> None:
    assert svc.validate_lookup_key("legacy.key") == "legacy.key"
    assert svc.validate_lookup_key("nested/path") == "nested/path"
    for bad in ("", "-x", "a b", "a\nb", "K" * 256):
        with pytest.raises(UsageError, match="Invalid key"):
            svc.validate_lookup_key(bad)


def test_extract_field() -> None:
    value = '{"user": "fake-user", "port": 5432, "tls": {"ca": "fake-ca"}, "a.b": 1, "list": [1]}'
    assert svc.extract_field(value, "user") == "fake-user"
    assert svc.extract_field(value, "port") == "5432"
    assert svc.extract_field(value, "tls.ca") == "fake-ca"
    assert svc.extract_field(value, "a.b") == "1"
    assert svc.extract_field(value, "list") == "[1]"
    with pytest.raises(NotFound, match=r"Field 'tls\.nope' not found"):
        svc.extract_field(value, "tls.nope")
    with pytest.raises(UsageError, match="not JSON"):
        svc.extract_field("plain", "x", "K")
    with pytest.raises(UsageError, match="JSON string"):
        svc.extract_field('"text"', "x")


_names = st.text(alphabet="ab.", min_size=1, max_size=3)
_objects = st.recursive(
    st.dictionaries(_names, st.text(alphabet="xyz", max_size=2), max_size=3),
    lambda inner: st.dictionaries(_names, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(_objects, _names)
def test_get_field_and_template_field_find_the_same_string(data: dict[str, object], path: str) -> None:
    """`keep get --field` and `{vault:KEY.field}` share one rule (exact name, then dotted path):
    a string field one finds the other finds alike, and a field one misses the other misses."""
    from keep_secrets.placeholders import field_value

    value = json.dumps(data)
    try:
        got = svc.extract_field(value, path)
    except NotFound:
        with pytest.raises(LookupError, match="has no field"):
            field_value(value, path)
        return
    if not got.startswith("{"):  # objects differ only in separators (compact vs ", ")
        assert field_value(value, path) == got


@pytest.mark.parametrize("charset", list(svc.CHARSETS))
def test_generate_value_uses_only_the_charset(charset: str) -> None:
    value = svc.generate_value(200, charset)
    assert len(value) == 200
    assert set(value) <= set(svc.CHARSETS[charset])


def test_generate_value_is_spread_over_the_alphabet() -> None:
    counts = Counter(svc.generate_value(4096, "hex") + svc.generate_value(4096, "hex"))
    assert set(counts) == set("0123456789abcdef")
    # 8192 draws over 16 symbols: 512 expected each; a biased generator falls far outside this
    assert all(380 < n < 650 for n in counts.values()), counts
    assert svc.generate_value(32) != svc.generate_value(32)


def test_generate_value_bounds() -> None:
    with pytest.raises(UsageError, match="Invalid length 7: use 8-4096"):
        svc.generate_value(7)
    with pytest.raises(UsageError, match="Invalid length 4097"):
        svc.generate_value(4097)
    with pytest.raises(UsageError, match="Unknown charset"):
        svc.generate_value(32, "emoji")


@pytest.mark.parametrize(("text", "days"), [("30d", 30), ("30", 30), ("7 days", 7), ("1 day", 1), ("1000d", 1000)])
def test_parse_every(text: str, days: int) -> None:
    assert svc.parse_every(text) == days


@pytest.mark.parametrize("text", ["0d", "1001d", "monthly", "-5d", "30h", ""])
def test_parse_every_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="--every"):
        svc.parse_every(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("today", datetime(2026, 3, 15, tzinfo=UTC)),
        ("yesterday", datetime(2026, 3, 14, tzinfo=UTC)),
        ("7d", NOW - timedelta(days=7)),
        ("7 days ago", NOW - timedelta(days=7)),
        ("2 weeks ago", NOW - timedelta(weeks=2)),
        ("12h", NOW - timedelta(hours=12)),
        ("30 minutes ago", NOW - timedelta(minutes=30)),
        ("45m", NOW - timedelta(minutes=45)),
        ("2024-01-31", datetime(2024, 1, 31, tzinfo=UTC)),
        ("2024-01-31T10:00:00Z", datetime(2024, 1, 31, 10, tzinfo=UTC)),
        ("2024-01-31T10:00:00+02:00", datetime(2024, 1, 31, 8, tzinfo=UTC)),
    ],
)
def test_parse_moment(text: str, expected: datetime) -> None:
    assert svc.parse_moment(text, now=NOW) == expected


def test_parse_moment_refuses_nonsense() -> None:
    with pytest.raises(UsageError, match="Invalid date 'last tuesday'"):
        svc.parse_moment("last tuesday", now=NOW)


def test_history_filter() -> None:
    old = Version("1", "a", datetime(2024, 1, 1, tzinfo=UTC), by="arn:aws:iam::1:user/Alice")
    new = Version("2", "b", datetime(2025, 1, 1, tzinfo=UTC), by="bob")
    anonymous = Version("3", "c", None, by=None)
    by_alice = svc.HistoryFilter(user="alice")
    assert [v.version for v in (old, new, anonymous) if by_alice.keep(v)] == ["1"]
    window = svc.HistoryFilter(since=datetime(2024, 6, 1, tzinfo=UTC), before=datetime(2025, 1, 1, tzinfo=UTC))
    assert [v.version for v in (old, new, anonymous) if window.keep(v)] == ["2"]  # inclusive bounds
    assert not svc.HistoryFilter().active


def test_search() -> None:
    items = [
        Secret("API_KEY", "sk-1234", "1", None, "local", "local"),
        Secret("DB_URL", "postgres://MySecret", "1", None, "local", "local"),
    ]
    assert [s.key for s in svc.search(items, "mysecret")] == ["DB_URL"]
    assert svc.search(items, "mysecret", case_sensitive=True) == []
    assert [s.key for s in svc.search(items, "api", keys=True)] == ["API_KEY"]
    with pytest.raises(UsageError):
        svc.search(items, "")


def test_charsets_are_the_string_modules_alphabets() -> None:
    """secret_ops spells the alphabets out (no `string` import on the `get` path); same
    characters, same order, so the same random values come out of the same draws."""
    import string

    from keep_secrets.services.secret_ops import CHARSETS

    letters, digits = string.ascii_letters, string.digits
    assert CHARSETS["alnum"] == letters + digits and CHARSETS["alpha"] == letters
    assert CHARSETS["digits"] == digits
    assert CHARSETS["base64"] == letters + digits + "+/" and CHARSETS["urlsafe"] == letters + digits + "-_"
    assert CHARSETS["ascii"] == "".join(c for c in string.printable if c not in " \t\n\r\x0b\x0c'\"\\`")
