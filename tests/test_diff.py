"""`keep diff` end to end on local vaults (through the CLI), and the matrix logic."""

from __future__ import annotations

import json

import pytest

from keep_secrets.formats.mask import mask
from keep_secrets.model import Secret
from keep_secrets.services import diffing
from keep_secrets.services.copying import Location

from .conftest import KeepRunner
from .inflight import InFlight
from .moving_support import seed

LONG = "fake-long-secret-value-0123456789"


@pytest.fixture
def matrix_project(kp: KeepRunner) -> KeepRunner:
    seed(kp.cwd, kp.env, "staging", {"SAME": "fake-same", "DIFF": "fake-staging", "ONLY_STAGING": "fake-o",
                                     "LONG": LONG})
    seed(kp.cwd, kp.env, "production", {"SAME": "fake-same", "DIFF": "fake-production", "LONG": LONG})
    return kp


def test_json_matrix_shape_and_statuses(matrix_project: KeepRunner) -> None:
    result = matrix_project.ok("diff", "--stage=staging,production", "--format=json")
    data = result.json()
    assert data == {
        "columns": ["local:staging", "local:production"],
        "rows": [
            {"key": "DIFF", "status": "different",
             "values": {"local:staging": mask("fake-staging"), "local:production": mask("fake-production")}},
            {"key": "LONG", "status": "identical",
             "values": {"local:staging": "fake" + "*" * 20 + f" ({len(LONG)} chars)",
                        "local:production": "fake" + "*" * 20 + f" ({len(LONG)} chars)"}},
            {"key": "ONLY_STAGING", "status": "incomplete",
             "values": {"local:staging": "********", "local:production": None}},
            {"key": "SAME", "status": "identical",
             "values": {"local:staging": "f********", "local:production": "f********"}},
        ],
    }
    assert "1 different" in result.stderr and "1 incomplete" in result.stderr


def test_unmask_and_filters(matrix_project: KeepRunner) -> None:
    data = matrix_project.ok("diff", "--stage=staging,production", "--format=json", "--unmask",
                             "--only=D*,S*", "--except=SAME").json()
    assert isinstance(data, dict)
    assert data["rows"] == [
        {"key": "DIFF", "status": "different",
         "values": {"local:staging": "fake-staging", "local:production": "fake-production"}},
    ]


def test_table_goes_to_stdout_and_masks(matrix_project: KeepRunner) -> None:
    result = matrix_project.ok("diff", "staging", "production")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Key", "staging", "production", "Status"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert rows["DIFF"].split()[-1] == "Different"
    assert rows["ONLY_STAGING"].split()[-2:] == ["—", "Incomplete"]
    assert rows["SAME"].split()[-1] == "Identical"
    assert "fake-same" not in result.stdout and "fake-staging" not in result.stdout
    unmasked = matrix_project.ok("diff", "--stage=staging,production", "--unmask")
    assert "fake-staging" in unmasked.stdout and "fake-production" in unmasked.stdout


def test_across_vaults_and_all_stages_by_default(matrix_project: KeepRunner) -> None:
    vault = {"slug": "team", "driver": "local", "name": "Team", "scope": ""}
    (matrix_project.cwd / ".keep" / "vaults" / "team.json").write_text(json.dumps(vault))
    seed(matrix_project.cwd, matrix_project.env, "staging", {"SAME": "fake-same"}, vault="team")
    data = matrix_project.ok("diff", "--format=json").json()
    assert isinstance(data, dict)
    assert data["columns"] == [f"{v}:{s}" for v in ("local", "team") for s in ("local", "staging", "production")]
    table = matrix_project.ok("diff", "--stage=staging", "--vault=local,team")
    assert table.stdout.splitlines()[0].split() == ["Key", "local:staging", "team:staging", "Status"]
    same = [line for line in table.stdout.splitlines() if line.startswith("SAME")]
    assert same[0].split()[-1] == "Identical"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("diff", "--stage=staging,prodution"), "Unknown stage 'prodution'"),
        (("diff", "--vault=local,nope"), "Unknown vault 'nope'"),
        (("diff", "--format=xml"), "xml"),
    ],
)
def test_unknown_stage_or_vault_is_an_error(matrix_project: KeepRunner, args: tuple[str, ...], match: str) -> None:
    result = matrix_project(*args)
    assert result.code == 2
    assert match in result.stderr
    assert result.stdout == ""


def test_empty(kp: KeepRunner) -> None:
    result = kp.ok("diff", "--format=json")
    assert result.json() == {"columns": ["local:local", "local:staging", "local:production"], "rows": []}
    assert "No secrets" in result.stderr


# -- matrix logic with an in-process slow store: cells are fetched concurrently ----------------

class _GaugedVault:
    """Only what build_matrix uses: `list(stage)`, each call passing an InFlight gauge (held
    until the expected number of calls are in flight together: counted, not timed)."""

    def __init__(self, slug: str, data: dict[str, dict[str, str]], gauge: InFlight) -> None:
        self.slug = slug
        self.data = data
        self.gauge = gauge

    def list(self, stage: str) -> list[Secret]:
        with self.gauge:
            return [Secret(k, v, "1", None, self.slug, stage) for k, v in sorted(self.data.get(stage, {}).items())]


@pytest.mark.parametrize("limit", [None, 2, 4, 8])
def test_cells_are_fetched_concurrently_within_the_limit(monkeypatch: pytest.MonkeyPatch, limit: int | None) -> None:
    if limit is not None:
        monkeypatch.setenv("KEEP_MAX_CONCURRENCY", str(limit))
    cells = 4
    expected = min(cells, limit or 8)  # 8: the default
    gauge = InFlight(expected, hold=0.02)
    store = _GaugedVault("v", {"a": {"K": "x"}, "b": {"K": "x"}, "c": {"K": "y"}, "d": {}}, gauge)
    columns = [Location("v", s) for s in "abcd"]
    matrix = diffing.build_matrix(lambda slug: store, columns)  # type: ignore[arg-type, return-value]
    assert gauge.reached.is_set(), f"never {expected} cells in flight at once (peak {gauge.peak})"
    assert gauge.peak == expected
    assert gauge.calls == cells
    assert [(r.key, r.status, r.values) for r in matrix.rows] == [("K", "incomplete", ("x", "x", "y", None))]


def test_compare() -> None:
    assert diffing.compare(["a"]) == "identical"
    assert diffing.compare(["a", "a"]) == "identical"
    assert diffing.compare(["a", "b"]) == "different"
    assert diffing.compare(["a", None]) == "incomplete"
    assert diffing.compare([None, None]) == "incomplete"
