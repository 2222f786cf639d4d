"""The driver registry: one declaration per driver, read by everything else; third-party
drivers through the `keep_secrets.vaults` entry-point group (the README's example driver is
installed here as a real distribution and driven through the real `keep` CLI)."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from keep_secrets.project import VaultConfig
from keep_secrets.vaults import registry
from tests.conftest import KeepRunner

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme() -> str:
    return README.read_text(encoding="utf-8")


_TABLE_FLAGS = (
    ("restore", "restore"), ("list_deleted", "deleted listing"), ("plain_values", "plain values"),
    ("history", "history"),
    ("field_access", "fields"), ("replication", "replicas"), ("lambda_rotation", "Lambda rotation"),
    ("native_versions", "native versions"), ("conditional_writes", "conditional writes"),
)


def driver_table() -> str:
    """The README's driver table, from the declarations (print it to update the README)."""
    rows = ["| driver | label | options | can |", "|---|---|---|---|"]
    for declared in registry.all_drivers():
        options = ", ".join(
            f"`{option.name}`" + (" (credential, from " + "/".join(option.env) + ")" if option.secret else "")
            for option in declared.options
        )
        flags = declared.capabilities.to_dict()
        can = ", ".join(label for flag, label in _TABLE_FLAGS if flags[flag])
        rows.append(f"| `{declared.name}` | {declared.label} | {options or '-'} | {can or '-'} |")
    return "\n".join(rows) + "\n"


def test_readme_driver_table_is_the_registrys() -> None:
    assert driver_table() in _readme(), "README's driver table is stale; replace it with:\n" + driver_table()


def test_every_builtin_declares_itself_under_its_name() -> None:
    for name in registry.BUILTIN:
        declared = registry.get(name)
        assert declared.name == name == declared.vault_class.driver
        assert len({option.name for option in declared.options}) == len(declared.options)


def test_config_validation_comes_from_the_declarations() -> None:
    with pytest.raises(Exception, match=r"invalid tier 'Gold': use one of Standard"):
        VaultConfig.from_dict({"slug": "s", "driver": "ssm", "tier": "Gold"})
    with pytest.raises(Exception, match=r"recovery_window_days must be a whole number"):
        VaultConfig.from_dict({"slug": "s", "driver": "secretsmanager", "recovery_window_days": "7"})
    # a field nobody declares (written by a newer keep) is carried through
    assert VaultConfig.from_dict({"slug": "s", "driver": "local", "future": 1}).options == {"future": 1}


def test_a_credential_option_is_never_stored_in_keep_dir() -> None:
    secret = registry.Option("token", "Access token", secret=True, env=("DEMO_TOKEN",))
    demo = registry.Driver(name="demo", label="Demo", vault_class=registry.get("local").vault_class, options=(secret,))
    registry.register(demo)
    try:
        with pytest.raises(Exception, match=r"token is a credential and is never stored in \.keep/ \(use DEMO_TOKEN\)"):
            VaultConfig.from_dict({"slug": "d", "driver": "demo", "token": "fake-token"})
        assert "token" not in json.dumps(demo.schema()["options"])
    finally:
        registry.forget("demo")


def _example_source() -> str:
    text = _readme()
    section = text[text.index("### How to add a driver"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


@pytest.fixture
def installed_example(tmp_path: Path) -> Iterator[Path]:
    """The README's example driver as an installed distribution with an entry point."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "keep_jsonfile.py").write_text(_example_source(), encoding="utf-8")
    dist = site / "keep_jsonfile-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: keep-jsonfile\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[keep_secrets.vaults]\njsonfile = keep_jsonfile\n")
    yield site
    registry.forget("jsonfile")


def test_readme_example_driver_is_about_thirty_lines() -> None:
    assert len(_example_source().splitlines()) <= 70


def test_entry_point_driver_is_found_in_process(installed_example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(installed_example))
    registry.forget("jsonfile")
    assert "jsonfile" in registry.names()
    declared = registry.get("jsonfile")
    assert declared.label == "JSON file (example)" and declared.vault_class.__name__ == "JsonFileVault"
    assert "| `jsonfile` |" in driver_table()


def test_entry_point_driver_works_through_the_cli(installed_example: Path, kp: KeepRunner) -> None:
    env = {"PYTHONPATH": str(installed_example)}
    run = KeepRunner(kp.cwd, {**kp.env, **env}, subprocess=True)
    listed = run("vault:add", "--help")
    assert "--file" in listed.stdout and "jsonfile" in listed.stdout
    run.ok("vault:add", "--driver", "jsonfile", "--slug", "js", "--file", "store.json", "-n", "--no-verify")
    assert json.loads((kp.cwd / ".keep" / "vaults" / "js.json").read_text())["file"] == "store.json"
    run.ok("set", "API_TOKEN", "fake-token-1", "--vault", "js", "--stage", "local")
    run.ok("set", "API_TOKEN", "fake-token-2", "--vault", "js", "--stage", "local")
    assert run.ok("get", "API_TOKEN", "--vault", "js", "--stage", "local", "--format", "raw").stdout == "fake-token-2\n"
    assert json.loads((kp.cwd / "store.json").read_text()) == {"local": {"API_TOKEN": ["fake-token-1", "fake-token-2"]}}
    history = run.ok("history", "API_TOKEN", "--vault", "js", "--stage", "local", "--format", "json").json()
    assert isinstance(history, list) and [v["version"] for v in history] == ["2", "1"]
    missing = run("get", "NOPE", "--vault", "js", "--stage", "local")
    assert missing.code == 3 and "`keep show` lists" in missing.stderr
    refused = run("vault:add", "--driver", "local", "--slug", "x", "--file", "a.json", "-n", "--no-verify")
    assert refused.code == 2 and "--file does not apply to the local driver (only jsonfile)" in refused.stderr


def test_no_capability_sniffing_in_src() -> None:
    """Optional capabilities are typed accessors and declared flags: nothing probes a vault's
    attributes with getattr/hasattr, no `type: ignore` papers over a missing method, and no
    code outside a driver branches on a driver's name - except the AWS IAM policy generator
    (services/iam.py), whose subject is those two AWS services."""
    src = Path(registry.__file__).resolve().parents[1]
    sniffing = re.compile(r"\b(?:getattr|hasattr)\(\s*(?:self\.)?\w*vault\w*\s*,|\.driver\s*(?:==|!=|in)\s*\(?\s*\"")
    found = [
        f"{path.relative_to(src)}:{n}: {line.strip()}"
        for path in sorted(src.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if (sniffing.search(line) or ("type: ignore[attr-defined]" in line and "vault" in line))
        and str(path.relative_to(src)) != "services/iam.py"
    ]
    assert found == []


def _src_files(src: Path) -> list[Path]:
    return sorted(p for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_openbao_is_named_only_in_its_module_and_its_registry_line() -> None:
    """Adding the OpenBao driver touched its own module and one line of registry.BUILTIN, and
    nothing else in the package may special-case it (a docstring, a refs format table or an
    `if driver == "openbao"` elsewhere fails this)."""
    src = Path(registry.__file__).resolve().parents[1]
    mentions = [
        (path.relative_to(src).as_posix(), n)
        for path in _src_files(src)
        if path.suffix in (".py", ".js", ".html", ".css", ".svg", ".json", ".txt", ".md", ".toml")
        and path.relative_to(src).as_posix() != "vaults/openbao.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"bao", line, re.IGNORECASE)
    ]
    assert len(mentions) == 1, mentions
    where, line = mentions[0]
    assert where == "vaults/registry.py" and line in _builtin_lines(src / where), mentions
    assert registry.BUILTIN["openbao"] == "keep_secrets.vaults.openbao"


def test_no_driver_name_is_a_literal_outside_its_module() -> None:
    """A driver's name as a string literal (what `if driver == "ssm"`, a table keyed by store
    name or a `driver in ("ssm", ...)` needs) appears only in its own module, in
    registry.BUILTIN and - for the AWS drivers - in services/iam.py, the IAM policy generator
    whose subject is those AWS services. `local` is exempt: it is also a stage and the
    `.keep/local/` directory, and `keep init` adds the embedded vault by that name. The page's
    scripts compare no driver name either (they draw from the served declarations)."""
    src = Path(registry.__file__).resolve().parents[1]
    allowed = {"ssm": {"vaults/ssm.py", "services/iam.py"},
               "secretsmanager": {"vaults/secretsmanager.py", "services/iam.py"},
               "openbao": {"vaults/openbao.py"}}
    assert set(allowed) == set(registry.BUILTIN) - {"local"}
    found = []
    for path in _src_files(src):
        where = path.relative_to(src).as_posix()
        if path.suffix == ".py":
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Constant) and node.value in allowed and where not in allowed[node.value]
                        and not (where == "vaults/registry.py" and node.lineno in _builtin_lines(path))):
                    found.append(f"{where}:{node.lineno}: {node.value!r}")
        elif path.suffix == ".js":
            names = "|".join(registry.BUILTIN)
            comparison = re.compile(rf"[!=]==?\s*[\"'`]({names})[\"'`]|[\"'`]({names})[\"'`]\s*[!=]==?")
            found += [f"{where}:{n}: {line.strip()}"
                      for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                      if comparison.search(line)]
    assert found == []


def _builtin_lines(registry_py: Path) -> set[int]:
    tree = ast.parse(registry_py.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "BUILTIN":
            return set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    raise AssertionError("registry.BUILTIN not found")
