"""The shell's history file records only known commands, with their value positions masked
(issue 16 item 9)."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keep_secrets.cli import COMMANDS
from keep_secrets.cli.shell_words import ALIASES, BUILTINS, redact_for_history

VALUE = "fake-value-XYZ"
KNOWN = {*COMMANDS, *BUILTINS, *ALIASES}


@pytest.mark.parametrize("line", [
    f"keep set API_KEY {VALUE}",
    f"keep s API_KEY={VALUE}",
    f"sett API_KEY {VALUE}",
    f"st API_KEY {VALUE}",
    f"{VALUE}",
    f"API_KEY={VALUE}",
    f"export API_KEY={VALUE}",  # `export` is keep's command, but `export K=V` is a shell habit
    f"echo {VALUE}",
])
def test_lines_that_may_hold_a_value_are_not_recorded_verbatim(line: str) -> None:
    recorded = redact_for_history(line)
    assert recorded is None or VALUE not in recorded


@pytest.mark.parametrize("line, expected", [
    (f"set API_KEY {VALUE}", "set API_KEY"),
    (f"s API_KEY {VALUE} plain", "s API_KEY"),
    (f"run -- curl -H 'token: {VALUE}'", "run -- ********"),
    (f"search {VALUE}", "search ********"),
    ("show unmask", "show unmask"),
    ("get API_KEY", "get API_KEY"),
    ("use production", "use production"),
])
def test_known_commands_are_recorded_with_values_masked(line: str, expected: str) -> None:
    assert redact_for_history(line) == expected


@given(word=st.from_regex(r"[a-z][a-z:_-]{0,12}", fullmatch=True), rest=st.lists(st.text(min_size=1), max_size=4))
def test_only_known_commands_are_ever_recorded(word: str, rest: list[str]) -> None:
    line = " ".join([word, *(shlex.quote(r) for r in rest)])
    recorded = redact_for_history(line)
    if word not in KNOWN:
        assert recorded is None
    elif recorded is not None:
        assert shlex.split(recorded)[0] == word
