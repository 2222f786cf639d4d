"""Every keep command on an `openbao` vault, through real `keep` subprocesses against a real
`bao server -dev`; exit codes of the failure classes (SPEC §4.5, §6)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from dotenv import dotenv_values

from tests.conftest import KEEP, KeepRunner
from tests.openbao.server import Api

pytestmark = pytest.mark.openbao

S = ("--vault", "bao", "--stage", "staging")
P = ("--vault", "bao", "--stage", "production")


def _no_traceback(result: object) -> None:
    assert "Traceback" not in getattr(result, "stderr", "")


def test_set_get_show_history_rollback_delete_restore_purge(bao_project: KeepRunner, bao: Api) -> None:
    k = bao_project
    assert "created" in k.ok("set", "DB_PASSWORD", "fake-one", *S).stderr
    assert "updated" in k.ok("set", "DB_PASSWORD", "fake-two", *S).stderr
    got = k.ok("get", "DB_PASSWORD", *S, "--format", "json").json()
    assert isinstance(got, dict)
    assert (got["value"], got["revision"], got["vault"], got["stage"]) == ("fake-two", "2", "bao", "staging")
    assert k.ok("get", "DB_PASSWORD", *S, "--version", "1", "--format", "raw").stdout == "fake-one\n"
    shown = k.ok("show", *S, "--unmask", "--format", "json").json()
    assert [(row["key"], row["value"]) for row in shown] == [("DB_PASSWORD", "fake-two")]  # type: ignore[index,union-attr]
    history = k.ok("history", "DB_PASSWORD", *S, "--unmask", "--format", "json").json()
    assert [(h["version"], h["value"], h["current"]) for h in history] == [  # type: ignore[index,union-attr]
        ("2", "fake-two", True), ("1", "fake-one", False)
    ]
    k.ok("rollback", "DB_PASSWORD", "--to", "1", *S)
    assert k.ok("get", "DB_PASSWORD", *S, "--format", "raw").stdout == "fake-one\n"
    assert bao.ok("GET", "secret/metadata/myapp/staging/DB_PASSWORD")["data"]["current_version"] == 3

    k.ok("delete", "DB_PASSWORD", *S, "--force")
    missing = k("get", "DB_PASSWORD", *S)
    assert missing.code == 3 and "restore" in missing.stderr
    assert k("set", "DB_PASSWORD", "fake-x", *S).code == 5
    k.ok("restore", "DB_PASSWORD", *S)
    assert k.ok("get", "DB_PASSWORD", *S, "--format", "raw").stdout == "fake-one\n"
    k.ok("delete", "DB_PASSWORD", *S, "--force", "--purge")
    assert bao.call("GET", "secret/metadata/myapp/staging/DB_PASSWORD")[0] == 404
    assert k("restore", "DB_PASSWORD", *S).code == 3


def test_rename_search_rotate(bao_project: KeepRunner, bao: Api) -> None:
    k = bao_project
    k.ok("set", "OLD_NAME", "fake-needle-value", *S)
    k.ok("set", "OTHER", "fake-other", *S)
    k.ok("rename", "OLD_NAME", "NEW_NAME", *S, "--force")
    keys = [row["key"] for row in k.ok("show", *S, "--format", "json").json()]  # type: ignore[index,union-attr]
    assert keys == ["NEW_NAME", "OTHER"]
    assert k("rename", "OTHER", "NEW_NAME", *S, "--force").code == 5
    found = k.ok("search", "needle", *S, "--unmask", "--format", "json").json()
    assert [row["key"] for row in found] == ["NEW_NAME"]  # type: ignore[index,union-attr]
    before = k.ok("get", "OTHER", *S, "--format", "raw").stdout
    k.ok("rotate", "OTHER", *S)
    after = k.ok("get", "OTHER", *S, "--format", "raw").stdout.strip()
    assert after != before.strip() and len(after) == 32
    assert bao.ok("GET", "secret/metadata/myapp/staging/OTHER")["data"]["current_version"] == 2


def test_copy_diff_import_export(bao_project: KeepRunner) -> None:
    k = bao_project
    env = "DB_HOST=db.internal\nMULTI=\"line one\\nline two\"\nQUOTED='it has $dollar and \"quotes\"'\n"
    report = k.ok("import", "-", *S, input=env)
    assert "3 created" in report.stderr or "created" in report.stderr
    again = k.ok("import", "-", *S, input=env)
    assert "unchanged" in again.stderr
    exported = k.ok("export", *S).stdout
    assert dotenv_values(stream=io.StringIO(exported), interpolate=False) == {
        "DB_HOST": "db.internal", "MULTI": "line one\nline two", "QUOTED": "it has $dollar and \"quotes\""
    }
    k.ok("copy", "--from", "bao:staging", "--to", "bao:production", "--only", "DB_*")
    k.ok("set", "LOCAL_ONLY", "fake-local", "--vault", "local", "--stage", "production")
    k.ok("copy", "LOCAL_ONLY", "--from", "local:production", "--to", "bao:production")
    assert k.ok("get", "LOCAL_ONLY", *P, "--format", "raw").stdout == "fake-local\n"
    diff = k.ok("diff", "--vault", "bao", "--stage", "staging,production", "--format", "json").json()
    status = {row["key"]: row["status"] for row in diff["rows"]}  # type: ignore[index,call-overload]
    assert status == {"DB_HOST": "identical", "LOCAL_ONLY": "incomplete", "MULTI": "incomplete",
                      "QUOTED": "incomplete"}


def test_foreign_entry_field_template_and_run(bao_project: KeepRunner, bao: Api) -> None:
    k = bao_project
    bao.ok("POST", "secret/data/myapp/production/DB_CREDS", {"data": {"username": "fake-admin", "password": "fake-pw"}})
    k.ok("set", "API_KEY", "fake-api-key", *P)
    assert k.ok("get", "DB_CREDS", *P, "--field", "password", "--format", "raw").stdout == "fake-pw\n"
    assert json.loads(k.ok("get", "DB_CREDS", *P, "--format", "raw").stdout) == {
        "username": "fake-admin", "password": "fake-pw"
    }
    (k.cwd / "env").mkdir(exist_ok=True)
    (k.cwd / "env" / "production.env").write_text(
        "APP=static\nAPI_KEY={bao}\nDB_USER={bao:DB_CREDS.username}\nURL=pg://{bao:DB_CREDS.username}@db\n"
    )
    rendered = k.ok("export", "--stage", "production", "--template").stdout
    assert dotenv_values(stream=io.StringIO(rendered), interpolate=False) == {
        "APP": "static", "API_KEY": "fake-api-key", "DB_USER": "fake-admin", "URL": "pg://fake-admin@db"
    }
    code = "import os; print(os.environ['API_KEY'], os.environ['DB_USER'])"
    ran = k.ok("run", "--stage", "production", "--template", "--", sys.executable, "-c", code)
    assert ran.stdout.strip() == "fake-api-key fake-admin"
    listed = k.ok("run", *P, "--", sys.executable, "-c", "import os; print(os.environ['API_KEY'])")
    assert listed.stdout.strip() == "fake-api-key"
    k.ok("template:validate", "env/production.env", "--stage", "production")


def test_verify_matrix(bao_project: KeepRunner) -> None:
    result = bao_project.ok("verify", "--vault", "bao", "--stage", "staging,production", "--format", "json")
    rows = result.json()
    assert [(r["stage"], r["list"], r["write"], r["read"], r["history"], r["delete"], r["cleaned_up"])  # type: ignore[index,union-attr]
            for r in rows] == [("staging", True, True, True, True, True, True),
                               ("production", True, True, True, True, True, True)]
    assert bao_project.ok("show", *S, "--format", "json").json() == []


# -- failures: exit codes, one line, no traceback ------------------------------------------------

def test_not_found_is_exit_3(bao_project: KeepRunner) -> None:
    result = bao_project("get", "NOPE", *S)
    assert result.code == 3 and "secret/data/myapp/staging/NOPE" in result.stderr
    _no_traceback(result)
    assert bao_project("delete", "NOPE", *S, "--force").code == 3
    assert bao_project("history", "NOPE", *S).code == 3
    assert bao_project("get", "NOPE", *S, "--version", "abc").code == 2


def test_missing_token_is_exit_4_saying_what_to_set(bao_project: KeepRunner) -> None:
    result = bao_project("get", "ANY", *S, env={"BAO_TOKEN": "", "VAULT_TOKEN": ""})
    assert result.code == 4
    assert "BAO_TOKEN" in result.stderr and "VAULT_TOKEN" in result.stderr and ".vault-token" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    _no_traceback(result)


def test_vault_token_and_token_file(bao_project: KeepRunner, bao: Api) -> None:
    k = bao_project
    k.ok("set", "T", "fake-t", *S, env={"BAO_TOKEN": "", "VAULT_TOKEN": bao.token})
    home = k.env["HOME"]
    with open(f"{home}/.vault-token", "w") as handle:
        handle.write(bao.token + "\n")
    assert k.ok("get", "T", *S, "--format", "raw", env={"BAO_TOKEN": ""}).stdout == "fake-t\n"
    # never written into the project
    for path in (k.cwd / ".keep").rglob("*"):
        if path.is_file():
            assert bao.token not in path.read_text(errors="replace")


def test_unreachable_is_exit_1_naming_the_address(bao_project: KeepRunner, closed_port: int) -> None:
    address = f"http://127.0.0.1:{closed_port}"
    cfg = bao_project.cwd / ".keep" / "vaults" / "bao.json"
    data = json.loads(cfg.read_text())
    data["address"] = address
    cfg.write_text(json.dumps(data))
    result = bao_project("show", *S, env={"KEEP_OPENBAO_RETRY_SECONDS": "1"})
    assert result.code == 1 and address in result.stderr and "connection refused" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    _no_traceback(result)


def test_invalid_token_is_exit_4(bao_project: KeepRunner) -> None:
    result = bao_project("show", *S, env={"BAO_TOKEN": "s.fake-invalid"})
    assert result.code == 4 and "invalid or expired" in result.stderr
    _no_traceback(result)


# -- concurrency ------------------------------------------------------------------------------------

def test_six_processes_setting_one_key_make_six_versions(bao_project: KeepRunner, bao: Api) -> None:
    k = bao_project
    procs = [
        subprocess.Popen([*KEEP, "set", "SHARED", f"fake-value-{i}", *S], cwd=k.cwd, env=k.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i in range(6)
    ]
    results = [(p.wait(timeout=120), p.stderr.read().decode() if p.stderr else "") for p in procs]
    assert all(code == 0 for code, _ in results), results
    history = k.ok("history", "SHARED", *S, "--unmask", "--limit", "20", "--format", "json").json()
    assert sorted(h["value"] for h in history) == sorted(f"fake-value-{i}" for i in range(6))  # type: ignore[index,union-attr]
    assert bao.ok("GET", "secret/metadata/myapp/staging/SHARED")["data"]["current_version"] == 6
    created = sum("created" in err for _, err in results)
    assert created == 1


def test_refs_external_secrets_for_the_vault_provider(bao_project: KeepRunner) -> None:
    import yaml

    bao_project.ok("set", "API_KEY", "fake-api", *S)
    out = bao_project.ok("refs", *S, "--format", "external-secrets", "--store", "bao-store").stdout
    manifest = yaml.safe_load(out)
    assert manifest["spec"]["data"] == [
        {"secretKey": "API_KEY", "remoteRef": {"key": "myapp/staging/API_KEY", "property": "value"}}
    ]
    assert "fake-api" not in out
    assert bao_project("refs", *S, "--format", "ecs").code == 2


def test_local_get_imports_no_openbao_code(bao_project: KeepRunner) -> None:
    """With an openbao vault configured (even the default one), `keep get` on the local vault
    loads no HTTP stack: the registry reads the driver's declaration (so its module is
    imported, cheaply), but http.client, ssl, sockets, thread pools and any client library
    load only when the vault is used."""
    bao_project.ok("set", "LOCAL_ONLY", "fake-local", "--vault", "local", "--stage", "local")
    probe = (
        "import atexit, sys\n"
        "names = ('http.client', 'ssl', 'socket', 'concurrent.futures', 'hvac', 'httpx', 'requests')\n"
        "atexit.register(lambda: sys.stderr.write('LOADED=%s\\n' % [n for n in names if n in sys.modules]))\n"
        "from keep_secrets.cli import main\n"
        "sys.exit(main())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, "get", "LOCAL_ONLY", "--format", "raw", "--vault", "local", "--stage", "local"],
        cwd=bao_project.cwd, env=bao_project.env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "fake-local\n"
    assert "LOADED=[]" in proc.stderr


def test_delete_purge_version_destroys_one_version(bao_project: KeepRunner, bao: Api) -> None:
    k = bao_project
    for value in ("fake-1", "fake-2", "fake-3"):
        k.ok("set", "PV", value, *S)
    k.ok("delete", "PV", "--purge", "--version", "1", "--force", *S)
    versions = bao.ok("GET", "secret/metadata/myapp/staging/PV")["data"]["versions"]
    assert versions["1"]["destroyed"] is True and not versions["2"]["destroyed"]
    history = k.ok("history", "PV", *S, "--unmask", "--format", "json").json()
    assert [(h["version"], h["value"]) for h in history] == [  # type: ignore[index,union-attr]
        ("3", "fake-3"), ("2", "fake-2"), ("1", None)
    ]
    assert k("delete", "PV", "--purge", "--version", "3", "--force", *S).code == 5
    assert k("delete", "PV", "--purge", "--version", "9", "--force", *S).code == 3
    assert k.ok("get", "PV", *S, "--format", "raw").stdout == "fake-3\n"
