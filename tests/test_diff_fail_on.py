"""`keep diff --fail-on`: drift as an exit code (SPEC §14)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from keep_secrets.services import diffing
from keep_secrets.services.copying import Location

from .conftest import KeepRunner
from .moving_support import seed


def _project(kp: KeepRunner, staging: dict[str, str], production: dict[str, str]) -> KeepRunner:
    seed(kp.cwd, kp.env, "staging", staging)
    if production:
        seed(kp.cwd, kp.env, "production", production)
    return kp


def test_fail_on_incomplete_exits_1_after_printing_the_matrix(kp: KeepRunner) -> None:
    _project(kp, {"A": "fake-a", "ONLY_STAGING": "fake-o"}, {"A": "fake-a"})
    result = kp("diff", "--stage=staging,production", "--format=json", "--fail-on=incomplete")
    assert result.code == 1
    data = result.json()
    assert isinstance(data, dict)
    assert [row["status"] for row in data["rows"]] == ["identical", "incomplete"]
    assert "--fail-on=incomplete: 1 key(s) incomplete: ONLY_STAGING" in result.stderr
    assert "Traceback" not in result.stderr
    table = kp("diff", "--stage=staging,production", "--fail-on", "incomplete")
    assert table.code == 1 and "Incomplete" in table.stdout


def test_fail_on_different_counts_incomplete_rows_too(kp: KeepRunner) -> None:
    _project(kp, {"A": "fake-a", "ONLY_STAGING": "fake-o"}, {"A": "fake-a"})
    result = kp("diff", "--stage=staging,production", "--fail-on=different")
    assert result.code == 1
    assert "1 key(s) different or incomplete: ONLY_STAGING" in result.stderr


def test_different_values_pass_incomplete_but_fail_different(kp: KeepRunner) -> None:
    _project(kp, {"A": "fake-a", "B": "fake-b1"}, {"A": "fake-a", "B": "fake-b2"})
    assert kp("diff", "--stage=staging,production", "--fail-on=incomplete").code == 0
    failed = kp("diff", "--stage=staging,production", "--fail-on=different")
    assert failed.code == 1 and ": B" in failed.stderr
    assert "fake-b1" not in failed.stderr + failed.stdout  # masked as always


def test_without_fail_on_diff_is_a_report(kp: KeepRunner) -> None:
    _project(kp, {"A": "fake-a", "ONLY_STAGING": "fake-o"}, {"B": "fake-b"})
    assert kp("diff", "--stage=staging,production").code == 0
    assert kp("diff", "--stage=staging,production", "--fail-on=identical").code == 2  # not a choice


def test_all_identical_passes_both_gates(kp: KeepRunner) -> None:
    _project(kp, {"A": "fake-a"}, {"A": "fake-a"})
    for gate in ("incomplete", "different"):
        assert kp("diff", "--stage=staging,production", f"--fail-on={gate}").code == 0


def test_help_documents_fail_on(kp: KeepRunner) -> None:
    out = kp.ok("diff", "--help").stdout
    assert "--fail-on [incomplete|different]" in out


_cells = st.one_of(st.none(), st.sampled_from(["x", "y"]))


@settings(deadline=None)
@given(st.lists(st.lists(_cells, min_size=2, max_size=2), max_size=8))
def test_failing_rows_match_the_status_rule(rows: list[list[str | None]]) -> None:
    matrix = diffing.Matrix(
        (Location("local", "a"), Location("local", "b")),
        tuple(diffing.Row(f"K{i}", diffing.compare(v), tuple(v)) for i, v in enumerate(rows)),
    )
    incomplete = {r.key for r in matrix.failing("incomplete")}
    different = {r.key for r in matrix.failing("different")}
    assert incomplete == {f"K{i}" for i, v in enumerate(rows) if None in v}
    assert different == {f"K{i}" for i, v in enumerate(rows) if None in v or v[0] != v[1]}
    assert incomplete <= different
