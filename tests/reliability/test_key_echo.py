"""Key errors never echo what follows an '=' (issue 16 item 10), and per-key reports show keys
escaped and shortened (item 14)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keep_secrets.model import UsageError
from keep_secrets.names import shown_key, validate_key
from keep_secrets.services.secret_ops import validate_lookup_key
from tests.conftest import KeepRunner

SECRET_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=4, max_size=80).filter(
    lambda s: s.strip() != "" and "=" not in s
)


@settings(max_examples=200)
@given(name=st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True), secret=SECRET_TEXT)
def test_key_errors_never_show_what_follows_an_equals_sign(name: str, secret: str) -> None:
    for check in (validate_key, validate_lookup_key):
        with pytest.raises(UsageError) as caught:
            check(f"{name}={secret}")
        text = caught.value.one_line()
        assert secret not in text and name in text


@given(raw=st.text(max_size=20000))
def test_shown_keys_are_printable_and_short(raw: str) -> None:
    shown = shown_key(raw)
    assert shown.isprintable() and len(shown) <= 4 * 60 + 2
    assert "=" not in raw or shown.endswith("=…")


@pytest.mark.parametrize("command", [["set", "E5=fake-secret-value-123"], ["set", "E5=fake-secret-value-123", "x"],
                                     ["get", "E5=fake-secret-value-123"], ["delete", "E5=fake-secret-value-123"]])
def test_cli_does_not_echo_the_value_of_a_key_value_slip(kp: KeepRunner, command: list[str]) -> None:
    result = kp(*command)
    assert result.code == 2, result.stderr
    assert "fake-secret-value-123" not in result.stderr + result.stdout
    assert "E5=…" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_import_report_escapes_and_shortens_keys(kp: KeepRunner) -> None:
    long_key = "K" * 10_000
    data = {"BAD\x00KEY": "fake-1", long_key: "fake-2", "SLIP=fake-secret-in-key": "fake-3", "GOOD": "fake-4"}
    result = kp("import", "-", "--format", "json", "--stage", "staging", input=json.dumps(data))
    assert result.code == 1, result.stderr
    assert "\x00" not in result.stderr and "BAD\\x00KEY" in result.stderr
    assert long_key not in result.stderr and max(len(line) for line in result.stderr.splitlines()) < 400
    assert "fake-secret-in-key" not in result.stderr
    assert "created       GOOD" in result.stderr
