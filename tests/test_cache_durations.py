"""cache_max_stale durations (vaults/durations.parse_duration): every unit and combination, and
what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keep_secrets.vaults.cache import human_age
from keep_secrets.vaults.durations import check_duration, parse_duration

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@given(st.lists(st.tuples(st.integers(1, 10_000), st.sampled_from(sorted(UNITS)), st.booleans()), min_size=1,
                max_size=4))
def test_parts_add_up(parts: list[tuple[int, str, bool]]) -> None:
    text = "".join(f"{n}{unit.upper() if upper else unit}" for n, unit, upper in parts)
    assert parse_duration(text) == sum(n * UNITS[unit] for n, unit, _ in parts)
    assert check_duration(text) == text.lower()


@pytest.mark.parametrize("text", ["", "24", "h", "0h", "-1h", "1y", "1.5h", "24h!", "soon", "1h 2x"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_human_age_units() -> None:
    ages = [human_age(s) for s in (5, 90, 3 * 3600 + 59, 47 * 3600, 3 * 86400)]
    assert ages == ["5 s", "1 min", "3 h", "47 h", "3 d"]
