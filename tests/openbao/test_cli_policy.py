"""`keep iam --vault bao` policies applied to the real server (PUT sys/policies/acl), a token
minted with only that policy (auth/token/create), and the real CLI run with it: in-scope
commands succeed, out-of-scope reads and writes exit 4. The server decides; nothing is
emulated."""

from __future__ import annotations

import pytest

from tests.conftest import KeepRunner
from tests.openbao.server import Api

pytestmark = pytest.mark.openbao

S = ("--vault", "bao", "--stage", "staging")
P = ("--vault", "bao", "--stage", "production")


def _token_for(k: KeepRunner, bao: Api, name: str, *iam_args: str) -> dict[str, str]:
    hcl = k.ok("iam", "--vault", "bao", *iam_args).stdout
    assert 'path "secret/data/myapp/' in hcl
    bao.put_policy(name, hcl)
    return {"BAO_TOKEN": bao.token_with(name)}


def test_stage_policy_allows_its_stage_and_denies_others(bao_project: KeepRunner, bao: Api) -> None:
    k = bao_project
    k.ok("set", "PROD_SECRET", "fake-prod", *P)
    env = _token_for(k, bao, "keep-staging", "--stage", "staging")
    for args in (
        ("set", "A", "fake-1", *S),
        ("set", "A", "fake-2", *S),
        ("get", "A", *S),
        ("show", *S, "--unmask"),
        ("history", "A", *S),
        ("rollback", "A", "--to", "1", *S),
        ("rename", "A", "B", *S, "--force"),
        ("delete", "B", *S, "--force"),
        ("restore", "B", *S),
        ("rotate", "B", *S),
        ("delete", "B", *S, "--force", "--purge", "--version", "1"),
        ("import", "-", *S),
        ("export", *S),
        ("search", "fake", *S),
        ("verify", *S),
        ("delete", "B", *S, "--force", "--purge"),
    ):
        k.ok(*args, env=env, input="IMPORTED=fake-imported\n" if args[0] == "import" else None)
    for args in (
        ("get", "PROD_SECRET", *P),
        ("show", *P),
        ("set", "NEW", "fake-new", *P),
        ("set", "PROD_SECRET", "fake-overwrite", *P),
        ("delete", "PROD_SECRET", *P, "--force"),
        ("history", "PROD_SECRET", *P),
        ("copy", "IMPORTED", "--from", "bao:staging", "--to", "bao:production"),
    ):
        result = k(*args, env=env)
        assert result.code == 4, f"{args} -> {result.code} {result.stderr}"
        assert "secret/" in result.stderr and "myapp/production" in result.stderr
        assert "Traceback" not in result.stderr
    denied = k("verify", *P, env=env)
    assert denied.code == 1
    assert "'list' on secret/metadata/myapp/production/" in denied.stderr
    assert "missing: 'list' on MOUNT/metadata/NAMESPACE/STAGE/" in denied.stderr
    # the root token sees production untouched
    assert k.ok("get", "PROD_SECRET", *P, "--format", "raw").stdout == "fake-prod\n"


def test_read_only_policy_reads_and_every_write_is_exit_4(bao_project: KeepRunner, bao: Api) -> None:
    k = bao_project
    k.ok("set", "A", "fake-1", *S)
    k.ok("set", "A", "fake-2", *S)
    env = _token_for(k, bao, "keep-ro", "--read-only")
    hcl = k.ok("iam", "--vault", "bao", "--read-only").stdout
    assert '"update"' not in hcl and '"delete"' not in hcl and '"create"' not in hcl
    for args in (
        ("get", "A", *S),
        ("get", "A", *S, "--version", "1"),
        ("show", *S, "--unmask"),
        ("export", *S),
        ("history", "A", *S),
        ("diff", "--vault", "bao", "--stage", "staging,production"),
        ("verify", *S, "--read-only"),
    ):
        k.ok(*args, env=env)
    for args in (
        ("set", "A", "fake-3", *S),
        ("set", "NEW", "fake", *S),
        ("delete", "A", *S, "--force"),
        ("delete", "A", *S, "--force", "--purge"),
        ("rollback", "A", "--to", "1", *S),
        ("rotate", "A", *S),
        ("delete", "A", *S, "--force", "--purge", "--version", "1"),
    ):
        result = k(*args, env=env)
        assert result.code == 4, f"{args} -> {result.code} {result.stderr}"
    assert k("verify", *S, env=env).code == 1
    assert k.ok("get", "A", *S, "--format", "raw").stdout == "fake-2\n"


def test_full_policy_covers_every_configured_stage(bao_project: KeepRunner, bao: Api) -> None:
    k = bao_project
    env = _token_for(k, bao, "keep-all")
    for stage in ("local", "staging", "production"):
        k.ok("set", "K", f"fake-{stage}", "--vault", "bao", "--stage", stage, env=env)
    other = k("show", "--vault", "bao", "--stage", "staging", env={**env})
    assert other.code == 0
    # another namespace is outside the policy
    status, _ = bao.call("GET", "secret/data/otherapp/staging/K", token=env["BAO_TOKEN"])
    assert status == 403
