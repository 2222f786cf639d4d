"""`keep export --format github` (SPEC §14): $GITHUB_ENV read back the way the Actions runner
reads it, and stdout made of ::add-mask:: commands only."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keep_secrets.formats.github import mask_lines, render_github_env, render_masks
from keep_secrets.model import UsageError

from .conftest import KeepRunner
from .moving_support import seed


def _read_line(text: str, index: int) -> tuple[str | None, int, str | None]:
    """actions/runner FileCommandManager.ReadLine on Linux: lines end at '\\n' only."""
    if index >= len(text):
        return None, index, None
    lf = text.find("\n", index)
    if lf < 0:
        return text[index:], len(text), None
    return text[index:lf], lf + 1, "\n"


def parse_github_env(text: str) -> dict[str, str]:
    """A transcription of the runner's SetEnvFileCommand.ProcessCommand (it raises where the
    runner fails the step)."""
    env: dict[str, str] = {}
    line, index, _ = _read_line(text, 0)
    while line is not None:
        if line:
            equals, heredoc = line.find("="), line.find("<<")
            if equals >= 0 and (heredoc < 0 or equals < heredoc):
                name, value = line.split("=", 1)
                assert name, f"empty name in {line!r}"
                env[name] = value
            elif heredoc >= 0 and (equals < 0 or heredoc < equals):
                name, delimiter = line.split("<<", 1)
                assert name and delimiter, f"invalid heredoc header {line!r}"
                start = end = index
                temp, index, newline = _read_line(text, index)
                while temp != delimiter:
                    assert temp is not None, f"matching delimiter not found {delimiter!r}"
                    assert newline is not None, "EOF marker missing new line"
                    end = index - len(newline)
                    temp, index, newline = _read_line(text, index)
                env[name] = text[start:end] if end > start else ""
            else:
                raise AssertionError(f"invalid format {line!r}")
        line, index, _ = _read_line(text, index)
    return env


def unescape_command_data(data: str) -> str:
    # ActionCommand.UnescapeData
    return data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,12}", fullmatch=True)
_values = st.text(alphabet=st.sampled_from(list("ab=<>%\n\r $ghadelimiter_0D")) | st.characters(), max_size=40)


@settings(deadline=None)
@given(st.dictionaries(_names, _values, max_size=6))
@example({"PEM": "-----BEGIN KEY-----\nabc\n-----END KEY-----\n", "CRLF": "a\r\nb\r", "EQ": "x=y<<z", "E": ""})
def test_runner_reads_back_every_value_exactly(pairs: dict[str, str]) -> None:
    text = render_github_env(list(pairs.items()))
    assert parse_github_env(text) == pairs


def test_delimiter_is_never_in_the_value() -> None:
    candidates = iter(["ghadelimiter_X", "ghadelimiter_X", "ghadelimiter_Y"])
    text = render_github_env([("K", "line\nghadelimiter_X\nmore")], lambda: next(candidates))
    assert text == "K<<ghadelimiter_Y\nline\nghadelimiter_X\nmore\nghadelimiter_Y\n"
    assert parse_github_env(text) == {"K": "line\nghadelimiter_X\nmore"}


def test_random_delimiters_differ() -> None:
    first = render_github_env([("K", "a\nb")]).splitlines()[0]
    second = render_github_env([("K", "a\nb")]).splitlines()[0]
    assert first != second and first.startswith("K<<ghadelimiter_")


@settings(deadline=None)
@given(st.lists(_values, max_size=5))
def test_masks_cover_every_nonblank_line(values: list[str]) -> None:
    text = render_masks(values)
    assert text == "" or text.endswith("\n")
    lines = text.split("\n")[:-1]  # the runner reads stdout lines at '\n'
    assert all(line.startswith("::add-mask::") for line in lines)
    masked = {unescape_command_data(line[len("::add-mask::"):]) for line in lines}
    for value in values:
        for part in value.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            if part.strip():
                assert part in masked
    assert masked == set(mask_lines(values))


def test_key_that_is_no_variable_name_is_refused() -> None:
    with pytest.raises(UsageError, match="github"):
        render_github_env([("OK", "x"), ("bad-key", "y")])


# -- end to end --------------------------------------------------------------------------

PEM = "-----BEGIN PRIVATE KEY-----\nMIIfakefakefake\n-----END PRIVATE KEY-----"


@pytest.fixture
def github(kp: KeepRunner, tmp_path: Path) -> tuple[KeepRunner, Path]:
    seed(kp.cwd, kp.env, "staging", {"DB_PASSWORD": "fake-pass%0A-word", "PEM": PEM, "EMPTY": ""})
    env_file = tmp_path / "github_env"
    env_file.write_text("EARLIER=1")  # another step's line without a final newline
    return kp, env_file


def test_appends_to_github_env_and_prints_only_masks(github: tuple[KeepRunner, Path]) -> None:
    kp, env_file = github
    result = kp("export", "--stage=staging", "--format=github", env={"GITHUB_ENV": str(env_file)})
    assert result.code == 0, result.stderr
    assert parse_github_env(env_file.read_text()) == {
        "EARLIER": "1", "DB_PASSWORD": "fake-pass%0A-word", "PEM": PEM, "EMPTY": "",
    }
    lines = result.stdout.split("\n")[:-1]
    assert all(line.startswith("::add-mask::") for line in lines)
    masked = {unescape_command_data(line[len("::add-mask::"):]) for line in lines}
    assert masked == {"fake-pass%0A-word", *PEM.split("\n")}
    assert "Appended 3 variable(s)" in result.stderr
    again = kp("export", "--stage=staging", "--format=github", "--only=DB_*", env={"GITHUB_ENV": str(env_file)})
    assert again.code == 0 and parse_github_env(env_file.read_text())["DB_PASSWORD"] == "fake-pass%0A-word"


def test_refused_without_github_env(github: tuple[KeepRunner, Path]) -> None:
    kp, env_file = github
    before = env_file.read_text()
    result = kp("export", "--stage=staging", "--format=github")
    assert result.code == 2 and result.stdout == ""
    assert "GITHUB_ENV" in result.stderr and "Traceback" not in result.stderr
    assert env_file.read_text() == before
    assert kp("export", "--stage=staging", "--format=github", env={"GITHUB_ENV": ""}).code == 2


def test_file_option_is_refused(github: tuple[KeepRunner, Path], tmp_path: Path) -> None:
    kp, env_file = github
    result = kp("export", "--stage=staging", "--format=github", "--file", str(tmp_path / "x"),
                env={"GITHUB_ENV": str(env_file)})
    assert result.code == 2 and not (tmp_path / "x").exists()


def test_bad_key_writes_nothing(kp: KeepRunner, tmp_path: Path) -> None:
    seed(kp.cwd, kp.env, "staging", {"GOOD": "fake-good-value", "bad-key": "fake-bad-value"})
    env_file = tmp_path / "github_env"
    result = kp("export", "--stage=staging", "--format=github", env={"GITHUB_ENV": str(env_file)})
    assert result.code == 2 and result.stdout == "" and not env_file.exists()


def test_template_renders_into_github_env(kp: KeepRunner, tmp_path: Path) -> None:
    seed(kp.cwd, kp.env, "staging", {"DB_PASSWORD": "fake-db-password"})
    (kp.cwd / "tpl.env").write_text("APP=static\nDB={local:DB_PASSWORD}\n")
    env_file = tmp_path / "github_env"
    result = kp("export", "--stage=staging", "--format=github", "--template=tpl.env", env={"GITHUB_ENV": str(env_file)})
    assert result.code == 0, result.stderr
    assert parse_github_env(env_file.read_text()) == {"APP": "static", "DB": "fake-db-password"}
    assert "::add-mask::fake-db-password" in result.stdout.splitlines()


def test_help_mentions_github(kp: KeepRunner) -> None:
    assert "GITHUB_ENV" in kp.ok("export", "--help").stdout
