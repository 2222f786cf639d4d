"""End-to-end tests of the single-secret commands through the `keep` CLI (tests/conftest.py runner).

Every test runs in a fresh project made by `keep init` (fixture `kp`: namespace `myapp`,
default vault `local`, stages local/staging/production) with its own HOME, so the local
vault's key file lives in a temp dir.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import KEEP, KeepRunner, Result


def ok(kp: KeepRunner, *args: str, **kwargs: Any) -> Result:
    result = kp.ok(*args, **kwargs)
    assert "Traceback" not in result.stderr
    return result


def fails(kp: KeepRunner, code: int, *args: str, match: str = "", **kwargs: Any) -> Result:
    """Run keep expecting exit `code`, one `keep: ...` line on stderr matching `match`, and
    nothing on stdout."""
    result = kp(*args, **kwargs)
    assert result.code == code, f"keep {' '.join(args)} -> {result.code}\n{result.stdout}\n{result.stderr}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("keep: "), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    if match:
        assert re.search(match, lines[0]), lines[0]
    return result


def raw(kp: KeepRunner, key: str, *extra: str) -> str:
    out = ok(kp, "get", key, "--stage", "local", "--format", "raw", *extra).stdout
    assert out.endswith("\n")
    return out[:-1]


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def history(kp: KeepRunner, key: str, *extra: str) -> list[dict[str, Any]]:
    data = as_json(ok(kp, "history", key, "--stage", "local", "--format", "json", "--limit", "0", *extra))
    assert isinstance(data, list)
    return data


# -- set ------------------------------------------------------------------------------------

def test_set_creates_then_updates_with_revision_on_stderr_only(kp: KeepRunner) -> None:
    first = ok(kp, "set", "DB_PASSWORD", "fake-db-pass-123", "--stage", "local")
    assert first.stdout == ""
    assert "created DB_PASSWORD in local:local (revision 1)" in first.stderr
    second = ok(kp, "set", "DB_PASSWORD", "fake-db-pass-456", "--stage", "local")
    assert second.stdout == ""
    assert "updated DB_PASSWORD in local:local (revision 2)" in second.stderr
    assert raw(kp, "DB_PASSWORD") == "fake-db-pass-456"


def test_set_env_alias_and_global_option_before_command(kp: KeepRunner) -> None:
    ok(kp, "set", "API_KEY", "fake-api-key-1", "--env", "staging")
    ok(kp, "--stage", "production", "set", "API_KEY", "fake-api-key-2")
    staging = as_json(ok(kp, "get", "API_KEY", "--env=staging", "--format", "json"))
    production = as_json(ok(kp, "--env", "production", "get", "API_KEY", "--format", "json"))
    assert (staging["value"], staging["stage"]) == ("fake-api-key-1", "staging")
    assert (production["value"], production["stage"]) == ("fake-api-key-2", "production")
    fails(kp, 3, "get", "API_KEY", "--stage", "local", match="not found")


def test_set_value_starting_with_dash_after_double_dash(kp: KeepRunner) -> None:
    """The way the short-option error tells users to pass such a value really works."""
    ok(kp, "set", "--stage=local", "--", "DASH_KEY", "-x9fake-dash")
    assert raw(kp, "DASH_KEY") == "-x9fake-dash"


def test_set_quiet_prints_nothing(kp: KeepRunner) -> None:
    result = ok(kp, "set", "QUIET_KEY", "fake-quiet-value", "--stage", "local", "-q")
    assert (result.stdout, result.stderr) == ("", "")
    assert raw(kp, "QUIET_KEY") == "fake-quiet-value"


@pytest.mark.parametrize(
    ("stdin", "expected"),
    [
        ("fake-piped-value\n", "fake-piped-value"),
        ("fake-no-newline", "fake-no-newline"),
        ("two-newlines\n\n", "two-newlines\n"),
        ("crlf-keeps-cr\r\n", "crlf-keeps-cr\r"),
        ("  spaced out  \n", "  spaced out  "),
        ("", ""),  # empty input needs --allow-empty (see test_values_not_lost.py)
    ],
)
def test_set_from_stdin_strips_exactly_one_newline(kp: KeepRunner, stdin: str, expected: str) -> None:
    ok(kp, "set", "PIPED", "-", "--allow-empty", "--stage", "local", input=stdin)
    assert as_json(ok(kp, "get", "PIPED", "--stage", "local", "--format", "json"))["value"] == expected
    ok(kp, "set", "PIPED2", "--stdin", "--allow-empty", "--stage", "local", input=stdin)
    assert as_json(ok(kp, "get", "PIPED2", "--stage", "local", "--format", "json"))["value"] == expected


def test_set_multiline_and_unicode_values_round_trip(kp: KeepRunner) -> None:
    pem = "-----BEGIN FAKE KEY-----\nZmFrZS1rZXktbWF0ZXJpYWw=\n-----END FAKE KEY-----\n"
    ok(kp, "set", "TLS_KEY", "--stdin", "--stage", "local", input=pem + "\n")
    assert raw(kp, "TLS_KEY") == pem
    ok(kp, "set", "GREETING", "grüße — 你好 🎉 'quote' \"dq\" $HOME ${X}", "--stage", "local")
    assert raw(kp, "GREETING") == "grüße — 你好 🎉 'quote' \"dq\" $HOME ${X}"
    ok(kp, "set", "EMPTY", "", "--stage", "local")
    assert raw(kp, "EMPTY") == ""


def test_set_plain_stores_not_secure_and_default_is_secure(kp: KeepRunner) -> None:
    ok(kp, "set", "PLAIN_KEY", "fake-plain", "--plain", "--stage", "local")
    ok(kp, "set", "SECURE_KEY", "fake-secure", "--stage", "local")
    assert as_json(ok(kp, "get", "PLAIN_KEY", "--stage", "local", "--format", "json"))["secure"] is False
    assert as_json(ok(kp, "get", "SECURE_KEY", "--stage", "local", "--format", "json"))["secure"] is True


def test_set_without_value_and_without_terminal_is_refused(kp: KeepRunner) -> None:
    fails(kp, 2, "set", "NO_VALUE", "--stage", "local", match="No VALUE given.*--stdin")
    fails(kp, 2, "set", "--stage", "local", match="Key is required")
    fails(kp, 2, "set", "BOTH", "value", "--stdin", "--stage", "local", input="x", match="not both")


def _run_on_terminal(kp: KeepRunner, args: list[str], typed: bytes) -> tuple[int, bytes]:
    """Run keep with a pseudo-terminal as stdin/stdout/stderr, type `typed` after the first
    prompt, and return (exit code, everything the terminal showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*KEEP, *args], cwd=kp.cwd, env=kp.env, stdin=slave, stdout=slave, stderr=slave, close_fds=True
    )
    os.close(slave)
    shown = b""
    sent = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
            if not sent and b":" in shown:
                os.write(master, typed)
                sent = True
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=30)
    os.close(master)
    return code, shown


def test_set_prompts_hidden_on_a_terminal(kp: KeepRunner) -> None:
    code, shown = _run_on_terminal(kp, ["set", "TYPED", "--stage", "local"], b"fake-typed-secret\n")
    assert code == 0, shown
    assert b"Value" in shown
    assert b"fake-typed-secret" not in shown  # not echoed
    assert raw(kp, "TYPED") == "fake-typed-secret"


# -- get ------------------------------------------------------------------------------------

@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_unwritable_stdout_is_one_clear_line(kp: KeepRunner) -> None:
    ok(kp, "set", "FULL_DISK", "fake-full-disk-1", "--stage", "local")
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([*KEEP, "get", "FULL_DISK", "--stage", "local", "--format", "raw"], cwd=kp.cwd,
                              env=kp.env, stdout=full, stderr=subprocess.PIPE, timeout=60, check=False)
    stderr = proc.stderr.decode()
    assert proc.returncode == 1
    assert stderr == "keep: Cannot write to standard output: No space left on device\n"


def test_get_formats(kp: KeepRunner) -> None:
    ok(kp, "set", "DB_PASSWORD", "fake-db-pass-123", "--stage", "local")
    table = ok(kp, "get", "DB_PASSWORD", "--stage", "local")
    header, rule, row = table.stdout.splitlines()
    assert header.split() == ["Key", "Value", "Revision", "Modified"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert row.split()[:3] == ["DB_PASSWORD", "fake-db-pass-123", "1"]
    assert table.stderr == ""

    data = as_json(ok(kp, "get", "DB_PASSWORD", "--stage", "local", "--format", "json"))
    assert set(data) == {"key", "value", "revision", "modified", "vault", "stage", "secure"}
    assert data["key"] == "DB_PASSWORD"
    assert data["value"] == "fake-db-pass-123"
    assert data["revision"] == "1"
    assert (data["vault"], data["stage"], data["secure"]) == ("local", "local", True)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", data["modified"])

    assert ok(kp, "get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == "fake-db-pass-123\n"
    assert ok(kp, "get", "DB_PASSWORD", "--stage", "local", "--vault", "local", "--format=raw").stdout == (
        "fake-db-pass-123\n"
    )


def test_get_version(kp: KeepRunner) -> None:
    for value in ("fake-v1", "fake-v2", "fake-v3"):
        ok(kp, "set", "ROTATING", value, "--stage", "local")
    assert raw(kp, "ROTATING") == "fake-v3"
    assert raw(kp, "ROTATING", "--version", "1") == "fake-v1"
    data = as_json(ok(kp, "get", "ROTATING", "--stage", "local", "--version", "2", "--format", "json"))
    assert (data["value"], data["revision"]) == ("fake-v2", "2")
    fails(kp, 3, "get", "ROTATING", "--stage", "local", "--version", "9", match="Version 9")
    fails(kp, 2, "get", "ROTATING", "--stage", "local", "--version", "latest", match="version number")


def test_get_field_of_json_value(kp: KeepRunner) -> None:
    value = json.dumps({"username": "fake-user", "password": "fake-pw-123", "port": 5432,
                        "nested": {"host": "db.example.test"}, "a.b": "dotted-name"})
    ok(kp, "set", "DB_CREDS", value, "--stage", "local")
    assert raw(kp, "DB_CREDS", "--field", "password") == "fake-pw-123"
    assert raw(kp, "DB_CREDS", "--field", "port") == "5432"
    assert raw(kp, "DB_CREDS", "--field", "nested.host") == "db.example.test"
    assert raw(kp, "DB_CREDS", "--field", "a.b") == "dotted-name"
    assert raw(kp, "DB_CREDS", "--field", "nested") == '{"host":"db.example.test"}'
    data = as_json(ok(kp, "get", "DB_CREDS", "--stage", "local", "--field", "username", "--format", "json"))
    assert (data["value"], data["field"], data["key"]) == ("fake-user", "username", "DB_CREDS")
    fails(kp, 3, "get", "DB_CREDS", "--stage", "local", "--field", "nope",
          match=r"Field 'nope' not found.*fields: a\.b, nested, password, port, username")
    ok(kp, "set", "NOT_JSON", "fake-plain-text", "--stage", "local")
    fails(kp, 2, "get", "NOT_JSON", "--stage", "local", "--field", "x", match="not JSON")
    ok(kp, "set", "JSON_LIST", "[1, 2]", "--stage", "local")
    fails(kp, 2, "get", "JSON_LIST", "--stage", "local", "--field", "x", match="JSON array")


def test_get_missing_secret_is_exit_3(kp: KeepRunner) -> None:
    fails(kp, 3, "get", "NOPE", "--stage", "local", match="'NOPE' not found in local:local")
    fails(kp, 2, "get", "--stage", "local", match="Key is required")


# -- show -----------------------------------------------------------------------------------

def _seed(kp: KeepRunner) -> None:
    ok(kp, "set", "DB_HOST", "db.internal", "--stage", "local")
    ok(kp, "set", "DB_PASSWORD", "fake-db-password-1234567890", "--stage", "local")
    ok(kp, "set", "API_KEY", "sk-fakeapikey123", "--stage", "local")
    ok(kp, "set", "TEMP_TOKEN", "fake-temp-1234", "--stage", "local")


def test_show_masks_by_default(kp: KeepRunner) -> None:
    _seed(kp)
    result = ok(kp, "show", "--stage", "local")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Key", "Value", "Revision", "Modified"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert list(rows) == ["API_KEY", "DB_HOST", "DB_PASSWORD", "TEMP_TOKEN"]
    assert rows["DB_HOST"].split()[1] == "d********"
    assert rows["API_KEY"].split()[1] == "sk********"
    assert "fak******************** (27 chars)" in rows["DB_PASSWORD"]
    for secret in ("db.internal", "fake-db-password-1234567890", "sk-fakeapikey123", "fake-temp-1234"):
        assert secret not in result.stdout + result.stderr


def test_show_unmask_json_and_filters(kp: KeepRunner) -> None:
    _seed(kp)
    data = as_json(ok(kp, "show", "--stage", "local", "--format", "json"))
    assert [d["key"] for d in data] == ["API_KEY", "DB_HOST", "DB_PASSWORD", "TEMP_TOKEN"]
    assert all(set(d) == {"key", "value", "revision", "modified", "vault", "stage", "secure"} for d in data)
    assert data[1]["value"] == "d********"

    unmasked = as_json(ok(kp, "show", "--stage", "local", "--format", "json", "--unmask", "--only", "DB_*"))
    assert {d["key"]: d["value"] for d in unmasked} == {
        "DB_HOST": "db.internal",
        "DB_PASSWORD": "fake-db-password-1234567890",
    }
    picked = as_json(ok(kp, "show", "--stage", "local", "--format", "json", "--only", "DB_*,API_*",
                        "--except", "*_PASSWORD"))
    assert [d["key"] for d in picked] == ["API_KEY", "DB_HOST"]
    several = as_json(ok(kp, "show", "--stage", "local", "--format", "json", "--except", "TEMP_*",
                         "--except", "API_KEY"))
    assert [d["key"] for d in several] == ["DB_HOST", "DB_PASSWORD"]
    table = ok(kp, "show", "--stage", "local", "--unmask")
    assert "fake-db-password-1234567890" in table.stdout


def test_show_empty_stage(kp: KeepRunner) -> None:
    table = ok(kp, "show", "--stage", "staging")
    assert table.stdout == ""
    assert "No secrets in local:staging" in table.stderr
    assert as_json(ok(kp, "show", "--stage", "staging", "--format", "json")) == []
    _seed(kp)
    none = ok(kp, "show", "--stage", "local", "--only", "NOTHING_*")
    assert none.stdout == ""
    assert "match the filters" in none.stderr


def test_show_env_format_needs_unmask(kp: KeepRunner) -> None:
    _seed(kp)
    fails(kp, 2, "show", "--stage", "local", "--format", "env", match="--unmask")


def test_show_env_format_reads_back_with_python_dotenv(kp: KeepRunner, tmp_path: Path) -> None:
    pytest.importorskip("keep_secrets.formats.dotenv")
    from dotenv import dotenv_values

    _seed(kp)
    ok(kp, "set", "MULTI", "line one\nline 'two' \"x\" $NOT_EXPANDED", "--stage", "local")
    result = ok(kp, "show", "--stage", "local", "--format", "env", "--unmask")
    target = tmp_path / "out.env"
    target.write_text(result.stdout)
    assert dotenv_values(target, interpolate=False) == {
        "API_KEY": "sk-fakeapikey123",
        "DB_HOST": "db.internal",
        "DB_PASSWORD": "fake-db-password-1234567890",
        "MULTI": "line one\nline 'two' \"x\" $NOT_EXPANDED",
        "TEMP_TOKEN": "fake-temp-1234",
    }


# -- delete / restore -----------------------------------------------------------------------

def test_delete_needs_force_without_terminal(kp: KeepRunner) -> None:
    ok(kp, "set", "DOOMED", "fake-doomed", "--stage", "local")
    fails(kp, 2, "delete", "DOOMED", "--stage", "local", match="pass --force")
    assert raw(kp, "DOOMED") == "fake-doomed"


def test_delete_asks_on_a_terminal(kp: KeepRunner) -> None:
    ok(kp, "set", "DOOMED", "fake-doomed", "--stage", "local")
    code, shown = _run_on_terminal(kp, ["delete", "DOOMED", "--stage", "local"], b"n\n")
    assert code == 0, shown
    assert b"Delete 'DOOMED' from local:local" in shown and b"Cancelled" in shown
    assert raw(kp, "DOOMED") == "fake-doomed"
    code, shown = _run_on_terminal(kp, ["delete", "DOOMED", "--stage", "local"], b"y\n")
    assert code == 0, shown
    assert b"deleted DOOMED from local:local" in shown
    fails(kp, 3, "get", "DOOMED", "--stage", "local")


def test_rename_asks_on_a_terminal(kp: KeepRunner) -> None:
    ok(kp, "set", "SRC", "fake-src", "--stage", "local")
    code, shown = _run_on_terminal(kp, ["rename", "SRC", "DST", "--stage", "local"], b"n\n")
    assert code == 0 and b"Cancelled" in shown, shown
    assert raw(kp, "SRC") == "fake-src"
    code, shown = _run_on_terminal(kp, ["rename", "SRC", "DST", "--stage", "local"], b"\n")  # default yes
    assert code == 0 and b"renamed SRC to DST" in shown, shown
    assert raw(kp, "DST") == "fake-src"


def test_delete_is_soft_and_restore_undoes_it(kp: KeepRunner) -> None:
    ok(kp, "set", "DOOMED", "fake-doomed", "--stage", "local")
    ok(kp, "set", "KEPT", "fake-kept", "--stage", "local")
    result = ok(kp, "delete", "DOOMED", "--force", "--stage", "local")
    assert result.stdout == ""
    assert "deleted DOOMED from local:local" in result.stderr
    assert "keep restore DOOMED" in result.stderr
    fails(kp, 3, "get", "DOOMED", "--stage", "local", match="deleted.*keep restore DOOMED")
    assert [d["key"] for d in as_json(ok(kp, "show", "--stage", "local", "--format", "json"))] == ["KEPT"]
    fails(kp, 5, "set", "DOOMED", "fake-new", "--stage", "local", match="deleted")
    fails(kp, 3, "delete", "DOOMED", "--force", "--stage", "local")

    restored = ok(kp, "restore", "DOOMED", "--stage", "local")
    assert "restored DOOMED in local:local" in restored.stderr
    assert raw(kp, "DOOMED") == "fake-doomed"
    assert len(history(kp, "DOOMED")) == 1
    fails(kp, 5, "restore", "DOOMED", "--stage", "local", match="not deleted")


def test_delete_purge_is_final(kp: KeepRunner) -> None:
    ok(kp, "set", "GONE", "fake-gone", "--stage", "local")
    result = ok(kp, "delete", "GONE", "--force", "--purge", "--stage", "local")
    assert "for good" in result.stderr
    fails(kp, 3, "restore", "GONE", "--stage", "local", match="not found")
    fails(kp, 3, "history", "GONE", "--stage", "local")
    # a soft-deleted secret can be purged, after which its name is free again
    ok(kp, "set", "SOFT", "fake-soft", "--stage", "local")
    ok(kp, "delete", "SOFT", "--force", "--stage", "local")
    ok(kp, "delete", "SOFT", "--force", "--purge", "--stage", "local")
    assert "created SOFT" in ok(kp, "set", "SOFT", "fake-soft-2", "--stage", "local").stderr


def test_restore_list_prints_the_restorable_keys_newest_first(kp: KeepRunner) -> None:
    for key in ("FIRST_GONE", "THEN_GONE", "PURGED", "LIVE"):
        ok(kp, "set", key, f"fake-{key.lower()}", "--stage", "local")
    empty = ok(kp, "restore", "--list", "--stage", "local")
    assert empty.stdout == "" and "No deleted secrets to restore in local:local" in empty.stderr
    assert as_json(ok(kp, "restore", "--list", "--stage", "local", "--format", "json")) == []
    for key in ("FIRST_GONE", "THEN_GONE", "PURGED"):
        ok(kp, "delete", key, "--force", "--stage", "local")
    ok(kp, "delete", "PURGED", "--force", "--purge", "--stage", "local")
    listed = ok(kp, "restore", "--list", "--stage", "local")
    assert "2 deleted secrets that can be restored in local:local" in listed.stderr
    rows = [line.split()[0] for line in listed.stdout.splitlines()[2:] if line.strip()]
    assert rows == ["THEN_GONE", "FIRST_GONE"]
    assert "fake-" not in listed.stdout
    data = as_json(ok(kp, "restore", "--list", "--stage", "local", "--format", "json"))
    assert [(d["key"], d["name"], d["vault"], d["stage"]) for d in data] == [
        ("THEN_GONE", "local/THEN_GONE", "local", "local"), ("FIRST_GONE", "local/FIRST_GONE", "local", "local"),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", d["deleted"]) for d in data)
    ok(kp, "restore", "THEN_GONE", "--stage", "local")
    assert [d["key"] for d in as_json(ok(kp, "restore", "--list", "--stage", "local", "--format", "json"))] == [
        "FIRST_GONE"
    ]
    assert ok(kp, "restore", "--list", "--stage", "staging").stdout == ""  # other stages: their own
    fails(kp, 2, "restore", "FIRST_GONE", "--list", "--stage", "local", match="takes no KEY")
    fails(kp, 2, "restore", "FIRST_GONE", "--format", "json", "--stage", "local", match="--list only")
    fails(kp, 2, "restore", "--stage", "local", match="no terminal")
    assert "keep restore --list" in kp("restore", "--stage", "local").stderr


def test_restore_without_key_on_a_terminal_offers_the_deleted_keys(kp: KeepRunner) -> None:
    from .test_cli_project import run_on_terminal

    for key in ("ALPHA", "BRAVO"):
        ok(kp, "set", key, f"fake-{key.lower()}", "--stage", "local")
        ok(kp, "delete", key, "--force", "--stage", "local")
    code, shown = run_on_terminal(kp, ["restore", "--stage", "local"], [("Key to restore", "ALPHA")])
    assert code == 0, shown
    assert "BRAVO, ALPHA" in shown  # the choices, newest deletion first
    assert "restored ALPHA in local:local" in shown
    assert raw(kp, "ALPHA") == "fake-alpha"
    ok(kp, "restore", "BRAVO", "--stage", "local")
    code, shown = run_on_terminal(kp, ["restore", "--stage", "local"], [])
    assert code == 3 and "No deleted secrets to restore in local:local" in shown, shown


def test_restore_without_key_or_stage_on_a_terminal_asks_for_the_stage_once(kp: KeepRunner) -> None:
    from .test_cli_project import run_on_terminal

    ok(kp, "set", "ALPHA", "fake-alpha", "--stage", "local")
    ok(kp, "delete", "ALPHA", "--force", "--stage", "local")
    code, shown = run_on_terminal(kp, ["restore"], [("Stage", "local"), ("Key to restore", "ALPHA")])
    assert code == 0, shown
    assert shown.count("Stage") == 1, shown
    assert raw(kp, "ALPHA") == "fake-alpha"


def test_delete_missing_is_exit_3(kp: KeepRunner) -> None:
    fails(kp, 3, "delete", "NOPE", "--force", "--stage", "local", match="not found")
    fails(kp, 3, "delete", "NOPE", "--stage", "local", match="not found")
    fails(kp, 3, "restore", "NOPE", "--stage", "local", match="not found")


# -- rename ---------------------------------------------------------------------------------

def test_rename_moves_value_and_secure_flag(kp: KeepRunner) -> None:
    ok(kp, "set", "OLD_KEY", "fake-old-value", "--plain", "--stage", "local")
    result = ok(kp, "rename", "OLD_KEY", "NEW_KEY", "--stage", "local")
    assert result.stdout == ""
    assert "renamed OLD_KEY to NEW_KEY in local:local" in result.stderr
    data = as_json(ok(kp, "get", "NEW_KEY", "--stage", "local", "--format", "json"))
    assert (data["value"], data["secure"]) == ("fake-old-value", False)
    fails(kp, 3, "get", "OLD_KEY", "--stage", "local")
    # the old key was deleted recoverably
    ok(kp, "restore", "OLD_KEY", "--stage", "local")
    assert raw(kp, "OLD_KEY") == "fake-old-value"


def test_rename_refuses_existing_target_unless_overwrite(kp: KeepRunner) -> None:
    ok(kp, "set", "SRC", "fake-src", "--stage", "local")
    ok(kp, "set", "DST", "fake-dst", "--stage", "local")
    fails(kp, 5, "rename", "SRC", "DST", "--force", "--stage", "local", match="'DST' already exists.*--overwrite")
    assert (raw(kp, "SRC"), raw(kp, "DST")) == ("fake-src", "fake-dst")
    result = ok(kp, "rename", "SRC", "DST", "--overwrite", "--stage", "local")
    assert "replaced the previous value of DST" in result.stderr
    assert raw(kp, "DST") == "fake-src"
    assert [v["value"] for v in history(kp, "DST", "--unmask")] == ["fake-src", "fake-dst"]
    fails(kp, 3, "get", "SRC", "--stage", "local")


def test_rename_errors(kp: KeepRunner) -> None:
    ok(kp, "set", "SRC", "fake-src", "--stage", "local")
    fails(kp, 3, "rename", "MISSING", "OTHER", "--stage", "local", match="'MISSING' not found")
    fails(kp, 2, "rename", "SRC", "bad.name", "--stage", "local", match="Invalid key 'bad.name'")
    fails(kp, 2, "rename", "SRC", "SRC", "--stage", "local", match="to itself")
    fails(kp, 2, "rename", "SRC", "--stage", "local", match="New key is required")
    assert raw(kp, "SRC") == "fake-src"
    fails(kp, 3, "get", "OTHER", "--stage", "local")


def _fail_deletes_of(project_dir: Path, key: str) -> None:
    """Make the local vault refuse to delete `key` (a trigger in the real database file), so a
    rename fails after it has already written the new key."""
    db = sqlite3.connect(project_dir / ".keep" / "local" / "local.db")
    with db:
        db.execute(
            "CREATE TRIGGER fail_delete BEFORE UPDATE OF deleted_at ON secrets "
            f"WHEN NEW.key = '{key}' AND NEW.deleted_at IS NOT NULL "
            "BEGIN SELECT RAISE(ABORT, 'fake injected delete failure'); END"
        )
    db.close()


def test_rename_rolls_back_when_the_delete_fails(kp: KeepRunner, project_dir: Path) -> None:
    ok(kp, "set", "OLD_KEY", "fake-old-value", "--stage", "local")
    _fail_deletes_of(project_dir, "OLD_KEY")
    fails(kp, 1, "rename", "OLD_KEY", "NEW_KEY", "--stage", "local",
          match=r"Rename failed: could not delete 'OLD_KEY' after writing 'NEW_KEY' \(rolled back\).*fake injected")
    assert raw(kp, "OLD_KEY") == "fake-old-value"
    fails(kp, 3, "get", "NEW_KEY", "--stage", "local", match="not found")
    fails(kp, 3, "history", "NEW_KEY", "--stage", "local")  # purged, not merely soft-deleted
    assert [d["key"] for d in as_json(ok(kp, "show", "--stage", "local", "--format", "json"))] == ["OLD_KEY"]


def test_rename_overwrite_rolls_back_to_the_previous_target_value(kp: KeepRunner, project_dir: Path) -> None:
    ok(kp, "set", "OLD_KEY", "fake-old-value", "--stage", "local")
    ok(kp, "set", "NEW_KEY", "fake-previous-target", "--plain", "--stage", "local")
    _fail_deletes_of(project_dir, "OLD_KEY")
    fails(kp, 1, "rename", "OLD_KEY", "NEW_KEY", "--overwrite", "--stage", "local", match=r"\(rolled back\)")
    assert raw(kp, "OLD_KEY") == "fake-old-value"
    target = as_json(ok(kp, "get", "NEW_KEY", "--stage", "local", "--format", "json"))
    assert (target["value"], target["secure"]) == ("fake-previous-target", False)


# -- search ---------------------------------------------------------------------------------

def _seed_search(kp: KeepRunner) -> None:
    ok(kp, "set", "API_KEY", "fake-key-1234-abcdefgh", "--stage", "local")
    ok(kp, "set", "SECRET_TOKEN", "token-1234", "--stage", "local")
    ok(kp, "set", "DATABASE_URL", "postgres://db/MySecret", "--stage", "local")
    ok(kp, "set", "CACHE_KEY", "mysecret", "--stage", "local")


def test_search_values_case_insensitive_and_masked(kp: KeepRunner) -> None:
    _seed_search(kp)
    result = ok(kp, "search", "1234", "--stage", "local")
    assert "Found 2 secret(s) whose values contain '1234' in local:local" in result.stderr
    keys = [line.split()[0] for line in result.stdout.splitlines()[2:]]
    assert keys == ["API_KEY", "SECRET_TOKEN"]
    assert "fake-key-1234-abcdefgh" not in result.stdout
    assert "fa********" in result.stdout and "fake*" not in result.stdout

    both = ok(kp, "search", "MYSECRET", "--stage", "local")
    assert [line.split()[0] for line in both.stdout.splitlines()[2:]] == ["CACHE_KEY", "DATABASE_URL"]
    exact = as_json(ok(kp, "search", "MySecret", "--case-sensitive", "--stage", "local", "--format", "json"))
    assert [d["key"] for d in exact] == ["DATABASE_URL"]


def test_search_keys_json_unmask_and_filters(kp: KeepRunner) -> None:
    _seed_search(kp)
    by_key = as_json(ok(kp, "search", "key", "--keys", "--stage", "local", "--format", "json", "--unmask"))
    assert [(d["key"], d["value"]) for d in by_key] == [
        ("API_KEY", "fake-key-1234-abcdefgh"),
        ("CACHE_KEY", "mysecret"),
    ]
    assert set(by_key[0]) == {"key", "value", "revision", "modified", "vault", "stage", "secure"}
    only = as_json(ok(kp, "search", "1234", "--only", "*_TOKEN", "--stage", "local", "--format", "json"))
    assert [(d["key"], d["value"]) for d in only] == [("SECRET_TOKEN", "t********")]


def test_search_no_match(kp: KeepRunner) -> None:
    _seed_search(kp)
    result = ok(kp, "search", "nonexistent", "--stage", "local")
    assert result.stdout == ""
    assert "No secrets whose values contain 'nonexistent' in local:local" in result.stderr
    assert as_json(ok(kp, "search", "nonexistent", "--stage", "local", "--format", "json")) == []
    fails(kp, 2, "search", "", "--stage", "local", match="cannot be empty")
    fails(kp, 2, "search", "--stage", "local", match="Search query is required")


# -- history / rollback ---------------------------------------------------------------------

def test_history_newest_first_with_limit_and_json_shape(kp: KeepRunner) -> None:
    for i in range(1, 13):
        ok(kp, "set", "HIST", f"fake-history-value-{i:02d}", "--stage", "local")
    table = ok(kp, "history", "HIST", "--stage", "local")
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["Version", "Value", "Modified", "By", "Labels"]
    assert [line.split()[0] for line in lines[2:]] == [str(v) for v in range(12, 2, -1)]  # default limit 10
    assert lines[2].rstrip().endswith("current")
    assert "fake-history-value" not in table.stdout
    assert "History of HIST in local:local" in table.stderr

    data = as_json(ok(kp, "history", "HIST", "--stage", "local", "--format", "json", "--limit", "3"))
    assert [d["version"] for d in data] == ["12", "11", "10"]
    assert set(data[0]) == {"version", "value", "modified", "by", "labels", "current"}
    assert data[0]["current"] is True and data[0]["labels"] == ["current"]
    assert data[1]["current"] is False and data[1]["labels"] == []
    assert data[0]["value"] == "fa********"  # 21 characters: 21 // 8 = 2 shown, 8 stars, no length
    assert isinstance(data[0]["by"], str) and data[0]["by"]

    everything = history(kp, "HIST", "--unmask")
    assert [d["value"] for d in everything] == [f"fake-history-value-{i:02d}" for i in range(12, 0, -1)]


def test_history_filters(kp: KeepRunner) -> None:
    ok(kp, "set", "HIST", "fake-v1", "--stage", "local")
    ok(kp, "set", "HIST", "fake-v2", "--stage", "local")
    user = history(kp, "HIST")[0]["by"]
    assert len(history(kp, "HIST", "--since", "1 hour ago")) == 2
    assert len(history(kp, "HIST", "--since", "2000-01-01", "--before", "2999-01-01T00:00:00Z")) == 2
    assert history(kp, "HIST", "--since", "2999-01-01") == []
    assert history(kp, "HIST", "--before", "7d") == []
    assert history(kp, "HIST", "--since", "today", "--before", "now") != []
    assert len(history(kp, "HIST", "--user", user.upper())) == 2
    assert history(kp, "HIST", "--user", "no-such-user-xyz") == []
    one = as_json(ok(kp, "history", "HIST", "--stage", "local", "--format", "json", "--limit", "1",
                     "--since", "2000-01-01"))
    assert [d["version"] for d in one] == ["2"]
    empty = ok(kp, "history", "HIST", "--stage", "local", "--since", "2999-01-01")
    assert empty.stdout == ""
    assert "No versions of HIST" in empty.stderr
    fails(kp, 2, "history", "HIST", "--stage", "local", "--since", "last tuesday", match="Invalid date")
    fails(kp, 3, "history", "NOPE", "--stage", "local", match="not found")


def test_rollback(kp: KeepRunner) -> None:
    for value in ("fake-v1", "fake-v2", "fake-v3"):
        ok(kp, "set", "ROLL", value, "--stage", "local")
    result = ok(kp, "rollback", "ROLL", "--to", "1", "--stage", "local")
    assert result.stdout == ""
    assert "rolled back ROLL in local:local to version 1 (now revision 4)" in result.stderr
    assert raw(kp, "ROLL") == "fake-v1"
    assert [v["value"] for v in history(kp, "ROLL", "--unmask")] == ["fake-v1", "fake-v3", "fake-v2", "fake-v1"]
    fails(kp, 3, "rollback", "ROLL", "--to", "42", "--stage", "local", match="Version 42")
    fails(kp, 2, "rollback", "ROLL", "--stage", "local", match="--to")
    fails(kp, 3, "rollback", "NOPE", "--to", "1", "--stage", "local", match="not found")
    assert raw(kp, "ROLL") == "fake-v1"


# -- rotate ---------------------------------------------------------------------------------

def test_rotate_generates_a_new_value(kp: KeepRunner) -> None:
    ok(kp, "set", "TOKEN", "fake-token-old", "--plain", "--stage", "local")
    result = ok(kp, "rotate", "TOKEN", "--stage", "local")
    assert result.stdout == ""
    assert "rotated TOKEN in local:local: new 32-character alnum value (revision 2)" in result.stderr
    data = as_json(ok(kp, "get", "TOKEN", "--stage", "local", "--format", "json"))
    assert re.fullmatch(r"[A-Za-z0-9]{32}", data["value"])
    assert data["secure"] is False  # rotation keeps the secure flag
    assert data["value"] not in result.stderr  # the new value is not printed

    ok(kp, "rotate", "TOKEN", "--length", "64", "--charset", "hex", "--stage", "local")
    hexed = raw(kp, "TOKEN")
    assert re.fullmatch(r"[0-9a-f]{64}", hexed)
    ok(kp, "rotate", "TOKEN", "--length", "40", "--charset", "ascii", "--stage", "local")
    printable = raw(kp, "TOKEN")
    assert len(printable) == 40 and all(33 <= ord(c) < 127 and c not in "'\"\\`" for c in printable)
    values = [v["value"] for v in history(kp, "TOKEN", "--unmask")]
    assert len(values) == 4 and len(set(values)) == 4


def test_rotate_errors(kp: KeepRunner) -> None:
    ok(kp, "set", "TOKEN", "fake-token-old", "--stage", "local")
    fails(kp, 3, "rotate", "MISSING", "--stage", "local", match="keep set MISSING")
    fails(kp, 2, "rotate", "TOKEN", "--length", "4", "--stage", "local", match="Invalid length 4")
    fails(kp, 2, "rotate", "TOKEN", "--length", "0", "--stage", "local", match="Invalid length 0")
    fails(kp, 2, "rotate", "TOKEN", "--charset", "emoji", "--stage", "local", match="--charset")
    fails(kp, 2, "rotate", "TOKEN", "--stage", "local", "--lambda",
          "arn:aws:lambda:us-east-1:123456789012:function:fake-rotator", match="Only Secrets Manager")
    fails(kp, 2, "rotate", "TOKEN", "--stage", "local", "--every", "30d", match="--every only applies")
    fails(kp, 2, "rotate", "TOKEN", "--stage", "local", "--length", "20", "--lambda",
          "arn:aws:lambda:us-east-1:123456789012:function:fake-rotator", match="cannot be used with --lambda")
    fails(kp, 2, "rotate", "TOKEN", "--stage", "local", "--lambda", "not-an-arn", match="Lambda ARN")
    fails(kp, 2, "rotate", "TOKEN", "--stage", "local", "--lambda",
          "arn:aws:lambda:us-east-1:123456789012:function:fake-rotator", "--every", "0d", match="--every")
    assert raw(kp, "TOKEN") == "fake-token-old"


# -- resolution -----------------------------------------------------------------------------

def test_stage_is_required_when_several_are_configured(kp: KeepRunner) -> None:
    fails(kp, 2, "set", "K", "fake-v", match="--stage is required.*local, staging, production")
    fails(kp, 2, "show", match="--stage is required")


def test_unknown_stage_and_vault(kp: KeepRunner) -> None:
    fails(kp, 2, "get", "K", "--stage", "prod", match="Unknown stage 'prod'.*local, staging, production")
    fails(kp, 2, "show", "--stage", "local", "--vault", "nope", match="Unknown vault 'nope'.*local")


def test_not_initialised(keep: KeepRunner) -> None:
    fails(keep, 2, "get", "K", "--stage", "local", match="not initialised")
    fails(keep, 2, "set", "K", "fake-v", "--stage", "local", match="not initialised")
    assert list(keep.cwd.iterdir()) == []
