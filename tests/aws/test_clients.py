"""boto3 sessions and clients of the AWS vaults: one botocore data loader per process (a
command over several vaults parses botocore's data files once), credentials per vault, and
clients built from several threads at once (a `diff`'s cells) all working."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botocore import loaders

from keep_secrets.project import VaultConfig
from keep_secrets.vaults.aws import AwsVault
from keep_secrets.vaults.secretsmanager import SecretsManagerVault
from keep_secrets.vaults.ssm import SsmVault
from tests.aws.proxy import Proxy

REGION = "us-east-1"


def _vault(driver: str, slug: str, endpoint: str, **options: Any) -> AwsVault:
    options = {"region": REGION, "endpoint_url": endpoint, **options}
    config = VaultConfig(slug, driver, slug, "", options)
    if driver == "ssm":
        return SsmVault(config, "myapp", None)
    return SecretsManagerVault(config, "myapp", None)


@pytest.fixture
def file_loads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each botocore data file is read and parsed, with botocore's own loader factory
    (tests/conftest.py shares one loader between the test process's sessions for speed; this
    checks that keep itself does)."""
    import botocore.session

    monkeypatch.setattr(botocore.session, "create_loader", loaders.create_loader)
    monkeypatch.setattr("keep_secrets.vaults.aws._loader", None, raising=False)
    loads: Counter[str] = Counter()
    real = loaders.JSONFileLoader.load_file

    def counting(self: Any, file_path: str) -> Any:
        data = real(self, file_path)
        if data is not None:
            loads[file_path] += 1
        return data

    monkeypatch.setattr(loaders.JSONFileLoader, "load_file", counting)
    return loads


def test_a_second_vault_parses_no_botocore_data_file_again(file_loads: Counter[str]) -> None:
    first = _vault("ssm", "one", "http://127.0.0.1:9")
    first.client()
    second = _vault("ssm", "two", "http://127.0.0.1:9")
    before = sum(file_loads.values())
    second.client()
    assert sum(file_loads.values()) == before, "the second ssm vault re-read botocore's data files"
    _vault("secretsmanager", "three", "http://127.0.0.1:9").client()
    assert all(count == 1 for count in file_loads.values()), file_loads
    for vault in (first, second):
        vault.close()


def test_vaults_keep_their_own_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[alpha]\naws_access_key_id = FAKEALPHA\naws_secret_access_key = fake\n"
        "[beta]\naws_access_key_id = FAKEBETA\naws_secret_access_key = fake\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    alpha = _vault("ssm", "alpha", "http://127.0.0.1:9", profile="alpha")
    beta = _vault("ssm", "beta", "http://127.0.0.1:9", profile="beta")
    keys = [v._boto_session().get_credentials().access_key for v in (alpha, beta)]
    assert keys == ["FAKEALPHA", "FAKEBETA"]
    for vault in (alpha, beta):
        vault.close()


def test_clients_built_from_many_threads_at_once_all_work(proxy: Proxy) -> None:
    vaults = [_vault("ssm" if i % 2 else "secretsmanager", f"v{i}", proxy.url) for i in range(8)]
    start = threading.Barrier(len(vaults))
    errors: list[BaseException] = []

    def use(vault: AwsVault) -> None:
        try:
            start.wait(timeout=30)
            vault.list("nothing-here")
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=use, args=(vault,)) for vault in vaults]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len({id(v.client()) for v in vaults}) == len(vaults)
    for vault in vaults:
        vault.close()
