"""The `ssm` driver: AWS Systems Manager Parameter Store (SPEC §4.2).

* Name: `/{namespace}/{scope/}{stage}/{KEY}`.
* `set` is one `PutParameter(Overwrite=True)`: its returned Version is the revision, so no
  read-back (PHP Keep does one). `KeyId` goes only with SecureString: AWS rejects it on a
  plain `String`.
* Values over the tier's limit (4 KB Standard, 8 KB Advanced/Intelligent-Tiering) are refused
  before any call, with a hint.
* `list` pages through `GetParametersByPath(Recursive, WithDecryption, MaxResults=10)`
  (ceil(N/10) calls). Keys of nested parameters are shown as stored (`sub/KEY`), never
  rewritten.
* `history` reads every `GetParameterHistory` page (AWS returns oldest first) and sorts newest
  first, so a long history never hides the latest changes (PHP Keep's bug).
* `rollback` puts the old value as a new version: Parameter Store has no "current" pointer.
* Deletion is immediate: Parameter Store keeps nothing to restore.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from ..model import NotFound, Secret, UsageError, Version, WriteResult
from .aws import AwsError, AwsVault

TIER_LIMITS = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}
PAGE_SIZE = 10
HISTORY_PAGE_SIZE = 50


class SsmVault(AwsVault):
    driver = "ssm"
    service = "ssm"
    supports_restore = False
    supports_plain = True

    # -- names ---------------------------------------------------------------------------
    def base_path(self, stage: str) -> str:
        parts = [self.namespace, self.config.scope.strip("/"), stage]
        return "/" + "/".join(part for part in parts if part)

    def remote_name(self, stage: str, key: str) -> str:
        return f"{self.base_path(stage)}/{key}"

    @property
    def tier(self) -> str:
        return str(self.config.get("tier") or "Standard")

    def _not_found(self, stage: str, key: str, name: str) -> NotFound:
        return NotFound(
            f"Secret '{key}' not found in {self.slug}:{stage} (parameter {name})",
            hint="`keep show` lists the stage's keys",
        )

    def _secret(self, stage: str, key: str, param: dict[str, Any]) -> Secret:
        return Secret(
            key=key,
            value=str(param.get("Value", "")),
            revision=str(param.get("Version", "")),
            modified=_as_datetime(param.get("LastModifiedDate")),
            vault=self.slug,
            stage=stage,
            secure=param.get("Type") == "SecureString",
            path=str(param.get("Name", "")),
        )

    # -- reads ---------------------------------------------------------------------------
    def list(self, stage: str) -> list[Secret]:
        base = self.base_path(stage)
        params: dict[str, Any] = {
            "Path": base,
            "Recursive": True,
            "WithDecryption": True,
            "MaxResults": PAGE_SIZE,
        }
        secrets: builtins.list[Secret] = []
        while True:
            page = self.call("get_parameters_by_path", base, **params)
            for param in page.get("Parameters", []):
                name = str(param["Name"])
                if not name.startswith(base + "/"):
                    continue
                key = name[len(base) + 1 :]
                if key:
                    secrets.append(self._secret(stage, key, param))
            token = page.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
        secrets.sort(key=lambda s: s.key)
        return secrets

    def get(self, stage: str, key: str, version: str | None = None) -> Secret:
        name = self.remote_name(stage, key)
        # Parameter Store addresses a version as `name:3` and a label as `name:label`.
        selector = f"{name}:{version}" if version else name
        try:
            response = self.call("get_parameter", selector, Name=selector, WithDecryption=True)
        except AwsError as exc:
            if exc.code == "ParameterNotFound":
                raise self._not_found(stage, key, name) from None
            if exc.code in ("ParameterVersionNotFound", "ParameterVersionLabelLimitExceeded"):
                raise NotFound(
                    f"Version {version} of '{key}' not found in {self.slug}:{stage} (parameter {name})",
                    hint=f"`keep history {key}` lists its versions",
                ) from None
            if exc.code == "ValidationException" and version:
                raise NotFound(
                    f"Version {version} of '{key}' not found in {self.slug}:{stage}: {exc.aws_message}",
                    hint=f"`keep history {key}` lists its versions",
                ) from None
            raise
        return self._secret(stage, key, response["Parameter"])

    def history(self, stage: str, key: str, limit: int | None = None) -> builtins.list[Version]:
        name = self.remote_name(stage, key)
        params: dict[str, Any] = {"Name": name, "WithDecryption": True, "MaxResults": HISTORY_PAGE_SIZE}
        entries: builtins.list[dict[str, Any]] = []
        while True:
            try:
                page = self.call("get_parameter_history", name, **params)
            except AwsError as exc:
                if exc.code == "ParameterNotFound":
                    raise self._not_found(stage, key, name) from None
                raise
            entries.extend(page.get("Parameters", []))
            token = page.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
        entries.sort(key=lambda e: int(e.get("Version", 0)), reverse=True)
        newest = int(entries[0].get("Version", 0)) if entries else None
        if limit is not None:
            entries = entries[: max(limit, 0)]
        return [
            Version(
                version=str(entry.get("Version", "")),
                value=entry.get("Value"),
                modified=_as_datetime(entry.get("LastModifiedDate")),
                by=entry.get("LastModifiedUser"),
                labels=tuple(entry.get("Labels") or ()),
                current=int(entry.get("Version", 0)) == newest,
                secure=entry.get("Type") == "SecureString",
            )
            for entry in entries
        ]

    # -- writes --------------------------------------------------------------------------
    def _check_value(self, stage: str, key: str, value: str) -> None:
        if value == "":
            raise UsageError(
                f"Parameter Store cannot hold an empty value ('{key}' in {self.slug}:{stage})",
                hint="store a placeholder value, or use a local or Secrets Manager vault",
            )
        size = len(value.encode("utf-8"))
        tier = self.tier
        limit = TIER_LIMITS.get(tier, TIER_LIMITS["Standard"])
        if size > limit:
            hint = (
                "set the vault's tier to Advanced (8 KB) with `keep vault:edit`, or use Secrets Manager (64 KB)"
                if tier == "Standard"
                else "use a Secrets Manager vault (64 KB)"
            )
            raise UsageError(
                f"Value of '{key}' is {size} bytes; the {tier} tier of Parameter Store holds at most {limit}",
                hint=hint,
            )

    def _put(self, stage: str, key: str, value: str, secure: bool) -> WriteResult:
        self._check_value(stage, key, value)
        name = self.remote_name(stage, key)
        params: dict[str, Any] = {
            "Name": name,
            "Value": value,
            "Type": "SecureString" if secure else "String",
            "Overwrite": True,
            "Tier": self.tier,
        }
        kms_key = self.config.get("key")
        if secure and kms_key:
            params["KeyId"] = str(kms_key)
        response = self.call("put_parameter", name, **params)
        version = int(response.get("Version", 0))
        return WriteResult(revision=str(version), created=version == 1)

    def set(self, stage: str, key: str, value: str, secure: bool = True) -> WriteResult:
        return self._put(stage, key, value, secure)

    def delete(self, stage: str, key: str, purge: bool = False) -> None:
        name = self.remote_name(stage, key)
        try:
            self.call("delete_parameter", name, Name=name)
        except AwsError as exc:
            if exc.code == "ParameterNotFound":
                raise self._not_found(stage, key, name) from None
            raise

    def rollback(self, stage: str, key: str, version: str) -> WriteResult:
        old = self.get(stage, key, version)
        result = self._put(stage, key, old.value, old.secure)
        return WriteResult(revision=result.revision, created=False)


def _as_datetime(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None
