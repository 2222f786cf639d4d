"""The streaming redaction filter of `keep run --redact`, against a one-shot reference.

Property: however the output is cut into reads, the streamed result equals replacing every
secret in the whole output at once (leftmost match, longest secret first), and the filter
never holds back more than a secret's length.
"""

from __future__ import annotations

import functools
import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from keep_secrets.placeholders import parse
from keep_secrets.services.running import Redactor, template_secret_values

MASK = b"********"


def reference(data: bytes, secrets: list[str]) -> bytes:
    needles = sorted({s.encode() for s in secrets if len(s) >= 4}, key=len, reverse=True)
    if not needles:
        return data
    return re.sub(b"|".join(re.escape(n) for n in needles), MASK, data)


def stream(data: bytes, secrets: list[str], cuts: list[int]) -> bytes:
    redactor = Redactor(secrets)
    out = b""
    last = 0
    for cut in sorted(set(cuts)):
        out += redactor.feed(data[last:cut])
        last = cut
    out += redactor.feed(data[last:])
    return out + redactor.flush()


alphabet = st.sampled_from(list("abcAB-=$'\"\n ✓é"))
secret_text = st.text(alphabet, min_size=1, max_size=12)


@settings(max_examples=400, deadline=None)
@given(
    secrets=st.lists(secret_text, min_size=1, max_size=4),
    pieces=st.lists(st.one_of(secret_text, st.integers(0, 3)), max_size=12),
    cut_fractions=st.lists(st.floats(0, 1), max_size=8),
)
def test_streaming_equals_one_shot_replace(secrets: list[str], pieces: list[str | int],
                                           cut_fractions: list[float]) -> None:
    # output built from filler text and the secrets themselves, so matches are frequent
    text = "".join(secrets[p % len(secrets)] if isinstance(p, int) else p for p in pieces)
    data = text.encode()
    cuts = [int(f * len(data)) for f in cut_fractions]
    assert stream(data, secrets, cuts) == reference(data, secrets)


@settings(max_examples=200, deadline=None)
@given(secret=st.text(min_size=4, max_size=40), prefix=st.binary(max_size=20), suffix=st.binary(max_size=20),
       split=st.integers(0, 200))
def test_a_secret_split_across_two_reads_never_leaks(secret: str, prefix: bytes, suffix: bytes, split: int) -> None:
    # a secret with '*' in it can be part of the mask (plus a suffix): "**xy" + "xy" -> "********xy"
    assume("*" not in secret)
    encoded = secret.encode()
    data = prefix + encoded + suffix
    cut = len(prefix) + split % (len(encoded) + 1)
    out = stream(data, [secret], [cut])
    assert encoded not in out
    assert MASK in out


def test_every_byte_is_emitted_as_soon_as_it_cannot_be_a_secret() -> None:
    redactor = Redactor(["hunter22"])
    assert redactor.feed(b"password: hun") == b"password: "
    assert redactor.feed(b"ter") == b""
    assert redactor.feed(b"22 done\n") == MASK + b" done\n"
    assert redactor.feed(b"no secret here\n") == b"no secret here\n"
    assert redactor.feed(b"hunt") == b""
    assert redactor.flush() == b"hunt"


def test_longer_secret_wins_over_its_prefix() -> None:
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.feed(b"xabcdef") == b"x"
    assert redactor.feed(b"gh!") == MASK + b"!"
    assert redactor.feed(b"abcdX") == MASK + b"X"


def test_short_values_are_not_redacted() -> None:
    redactor = Redactor(["abc", "1", ""])
    assert not redactor.active
    assert redactor.feed(b"abc 1") == b"abc 1"


def test_multiline_and_unicode_values() -> None:
    pem = "-----BEGIN FAKE KEY-----\nAAAA\n-----END FAKE KEY-----"
    data = f"key:\n{pem}\nünï✓-secret\n".encode()
    assert stream(data, [pem, "ünï✓-secret"], [10, 30, 31]) == b"key:\n" + MASK + b"\n" + MASK + b"\n"


def test_template_values_cover_whole_values_and_their_placeholders() -> None:
    template = parse(
        "APP_ENV=production\nDB_PASSWORD={local:DB_PASSWORD}\n"
        "DATABASE_URL=postgres://{local:DB_USER}:{local:DB_PASSWORD}@db:5432/app\n",
        ["local"],
    )
    injected = {
        "APP_ENV": "production",
        "DB_PASSWORD": "fake-pw-123",
        "DATABASE_URL": "postgres://fake-user:fake-pw-123@db:5432/app",
    }
    assert template_secret_values(template, injected) == {
        "fake-pw-123",
        "fake-user",
        "postgres://fake-user:fake-pw-123@db:5432/app",
    }


@functools.cache
def _random_64kb(seed: int) -> str:
    import random

    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(random.Random(seed).choices(letters, k=64000))


# the cuts are what is explored; three different 64 KB values are enough for the content (a fresh
# one per example only made each example ~0.4 s: 21 s for 50)
@settings(max_examples=50, deadline=None)
@given(cuts=st.lists(st.integers(0, 70000), max_size=6), seed=st.sampled_from([1, 2, 3]))
def test_a_64kb_secret_among_short_ones(cuts: list[int], seed: int) -> None:
    big = _random_64kb(seed)
    secrets = [big, big[:20], "fake-short-1", "fake-short-2"]
    data = f"log: fake-short-1 {big[:30000]} then {big} and fake-short-2 {big[:19]}\n".encode()
    assert stream(data, secrets, cuts) == reference(data, secrets)
