"""keep's botocore timestamp parser (vaults/aws.py `aws_timestamp`): the same instants as
botocore's default parser, as aware UTC datetimes, and installed on every AWS vault's clients."""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.utils import parse_timestamp
from hypothesis import given
from hypothesis import strategies as st

from keep_secrets.vaults.aws import aws_timestamp
from tests.aws.proxy import Proxy


@given(st.floats(min_value=0, max_value=4102444800, allow_nan=False) | st.integers(0, 4102444800))
def test_epoch_seconds_are_the_instant_botocore_gives(value: float) -> None:
    ours = aws_timestamp(value)
    assert ours.tzinfo is UTC
    assert abs((ours - parse_timestamp(value)).total_seconds()) < 1e-5


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)))
def test_iso_strings_go_to_botocore(moment: datetime) -> None:
    text = moment.isoformat().replace("+00:00", "Z")
    assert aws_timestamp(text) == parse_timestamp(text) == moment


def test_vault_reads_carry_aware_utc_times(counted: Proxy, make_sm, make_ssm) -> None:  # type: ignore[no-untyped-def]
    sm, ssm = make_sm(counted.url), make_ssm(counted.url)
    sm.set("staging", "FAKE_A", "fake-a")
    ssm.set("staging", "FAKE_B", "fake-b")
    read = (*sm.list("staging"), *ssm.list("staging"), sm.get("staging", "FAKE_A"), ssm.get("staging", "FAKE_B"))
    for secret in read:
        assert secret.modified is not None and secret.modified.tzinfo is UTC
        assert abs((datetime.now(UTC) - secret.modified).total_seconds()) < 600
