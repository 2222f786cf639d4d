"""The one error table (model.py) and the rule that drivers never word CLI syntax."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from keep_secrets import model
from keep_secrets.cli import COMMANDS
from keep_secrets.cli.hints import cli_hint
from keep_secrets.model import AccessDenied, Conflict, KeepError, NotFound
from keep_secrets.vaults.secretsmanager import NotFoundOrDenied
from keep_secrets.web.hints import web_hint

VAULTS = Path(model.__file__).parent / "vaults"
_COMMAND = re.compile(r"\bkeep (" + "|".join(re.escape(name) for name in COMMANDS) + r")\b")


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _user_strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    ]


def _offending(path: Path) -> list[str]:
    return [
        f"{path.name}:{line}: {text!r}"
        for line, text in _user_strings(path)
        if "`" in text or _COMMAND.search(text) or re.search(r"(^|\s)--[a-z]", text)
    ]


@pytest.mark.parametrize("path", sorted(VAULTS.glob("*.py")), ids=lambda p: p.name)
def test_no_string_in_a_driver_quotes_cli_syntax(path: Path) -> None:
    assert _offending(path) == []


def test_the_scan_would_catch_a_cli_hint(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Doc `keep show`."""\nA = "run keep restore KEY first"\nB = f"use {1} --purge"\nC = "`x`"\nD = "ok"\n'
    )
    assert sorted(entry.split(":")[1] for entry in _offending(sample)) == ["2", "3", "4"]


def test_every_error_type_carries_exit_code_and_http_status() -> None:
    table = {cls.__name__: (cls.exit_code, cls.http_status) for cls in (
        model.KeepError, model.RemoteError, model.UsageError, NotFound, AccessDenied, Conflict, model.Interrupted,
    )}
    assert table == {
        "KeepError": (1, 500), "RemoteError": (1, 500), "UsageError": (2, 400), "NotFound": (3, 404),
        "AccessDenied": (4, 403), "Conflict": (5, 409), "Interrupted": (130, 503),
    }


def test_not_found_or_denied_means_denied_in_both_front_ends() -> None:
    error = NotFoundOrDenied("Secret a/b not found or not permitted", key="B", action="GetSecretValue")
    assert isinstance(error, NotFound) and isinstance(error, AccessDenied)
    assert (error.exit_code, error.http_status) == (4, 403)


@pytest.mark.parametrize(("error", "cli", "web"), [
    (NotFound("gone", key="K"), "`keep show`", "table lists"),
    (NotFound("gone", key="K", version="3"), "`keep history K`", "History lists"),
    (NotFound("gone", key="K", deleted=True), "`keep restore K`", "restore it"),
    (Conflict("deleted", key="K", deleted=True), "`keep delete K --purge`", "delete it for good"),
    (NotFoundOrDenied("denied", key="K", action="GetSecretValue"), "`keep iam`", "IAM policy"),
])
def test_each_front_end_words_its_own_hint(error: KeepError, cli: str, web: str) -> None:
    cli_text, web_text = cli_hint(error), web_hint(error)
    assert cli_text is not None and cli in cli_text
    assert web_text is not None and web in web_text
    assert "`" not in web_text and "keep " not in web_text and "--" not in web_text


def test_a_drivers_own_hint_is_kept_by_both() -> None:
    error = KeepError("too big", hint="store a placeholder value")
    assert cli_hint(error) == web_hint(error) == "store a placeholder value"
