"""The `secretsmanager` driver: AWS Secrets Manager, as the seed page documents it (SPEC §4.3).

* Name: `{namespace}/{scope/}{stage}/{KEY}`; tags exactly `ManagedBy=Keep`, `Namespace`,
  `Stage` (key = vault `stage_tag`), `VaultSlug`, sent inside `CreateSecret` so the seed's
  `aws:RequestTag` / `ForAllValues:StringEquals aws:TagKeys` policies allow the call. Scope
  lives in the name only (a fifth tag key would be denied by those policies).
* `set` = `PutSecretValue`, and `CreateSecret` only when that says the secret is missing: at
  most 2 calls whatever the stage's size, never a listing. Under the seed's tag-conditioned
  policies AWS answers AccessDenied (not ResourceNotFound) for a secret that does not exist
  yet (it has no tags to satisfy the condition), so an AccessDenied on the put also leads to a
  create; if the create then says the secret exists, the original denial is the answer.
* For the same reason a denied read of one secret is reported as "not found or not
  permitted" (:class:`NotFoundOrDenied`: an AccessDenied, exit 4, that is also a NotFound).
* `get` reads `AWSCURRENT` explicitly so a rotation in progress never serves `AWSPENDING`.
* `list` = `ListSecrets` pages of 100 (name prefix + tag filters, then an exact check of
  name prefix and tags), then `BatchGetSecretValue` of 20 known ARNs per call, run
  concurrently: ceil(N/100) + ceil(N/20) calls. Secrets being deleted are skipped; any other
  per-secret error fails the listing with every failure named (:class:`PartialList` carries
  what was read), never a silently shorter list.
* `delete` schedules deletion with the vault's `recovery_window_days` (default 7; 0 = at
  once); `restore` undoes it; `purge` deletes at once.
* `history` = every page of `ListSecretVersionIds(IncludeDeprecated)`, values fetched
  concurrently, newest first by creation date; `rollback` moves `AWSCURRENT` with
  `UpdateSecretVersionStage`.
* Reads (get, list, history) fall back to the `replica_regions` in order when the primary
  region is unreachable (connection errors or 5xx after retries, never access denied), with
  a notice on stderr.
"""

from __future__ import annotations

import builtins
import collections
import re
from collections.abc import Callable, Iterator
from datetime import datetime

from .. import record
from ..concurrency import concurrent_map, pipelined
from ..model import (
    AccessDenied,
    Conflict,
    Expect,
    NotFound,
    PreconditionFailed,
    RemoteError,
    Secret,
    UsageError,
    Version,
    WriteResult,
)
from .aws import (
    ACCESS_DENIED_CODES,
    CREDENTIAL_CODES,
    AwsError,
    AwsVault,
    Unreachable,
    aws_options,
    check_region,
    mentions_kms,
)
from .base import DeletedSecret, Reference, ReplicaChange
from .registry import Capabilities, Driver, Option

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: start-up)
if TYPE_CHECKING:
    from typing import Any, NamedTuple, TypeVar

    from ..project import VaultConfig
    from .base import LambdaRotating, ListsDeleted, Replicating
    from .cache import Incremental  # loads only where a cache is used (SPEC §12: start-up)

    T = TypeVar("T")

MAX_VALUE_BYTES = 65536
LIST_PAGE_SIZE = 100
BATCH_SIZE = 20
HISTORY_PAGE_SIZE = 100
DEFAULT_RECOVERY_WINDOW = 7
# VersionIds are ClientRequestTokens: 32-64 characters (uuid4 by default). Anything else given
# as --version is a staging label (AWSCURRENT, AWSPREVIOUS, custom labels); one that looks like an
# id but names no version is tried as a label too.
_VERSION_ID_RE = re.compile(r"[0-9A-Za-z-]{32,64}")


if TYPE_CHECKING:

    class ListedSecret(NamedTuple):
        """One secret of a ListSecrets page: its key in the stage, its AWSCURRENT version id ("" if
        the entry has no version map), ARN and full name."""

        key: str
        version: str
        arn: str
        name: str

else:  # the same tuple, without importing typing
    ListedSecret = collections.namedtuple("ListedSecret", ["key", "version", "arn", "name"])


def _current_version(entry: dict[str, Any]) -> str:
    stages: dict[str, Any] = entry.get("SecretVersionsToStages") or {}
    return next((str(vid) for vid, labels in stages.items() if "AWSCURRENT" in (labels or ())), "")


class NotFoundOrDenied(AccessDenied, NotFound):
    """AWS denied a call on one secret. Under tag-conditioned policies that is also what a
    missing secret looks like, so it is both: `except AccessDenied` and `except NotFound`
    catch it (`exists()` is False, so copy/rename go on to a `set`, which creates the secret
    or fails with the denial). Its exit code and HTTP status are AccessDenied's (4 / 403):
    AWS did deny the call (the README's "not found or denied" decision)."""

    exit_code = AccessDenied.exit_code
    http_status = AccessDenied.http_status


class PartialList(RemoteError):
    """Some secrets of a stage could not be read. `secrets` holds the readable ones and
    `failures` maps each unreadable secret name to its error."""

    def __init__(self, message: str, secrets: list[Secret], failures: dict[str, str]) -> None:
        super().__init__(message, hint="check the IAM and KMS permissions of the secrets named")
        self.secrets = secrets
        self.failures = failures


class DeniedList(AccessDenied):
    """Every secret of a stage's listing that could be read was denied (IAM or KMS): access
    denied (exit 4) rather than a partial failure; `failures` maps each name to its error."""

    def __init__(self, message: str, failures: dict[str, str]) -> None:
        super().__init__(message, hint="check the IAM and KMS permissions of the secrets named")
        self.secrets: builtins.list[Secret] = []
        self.failures = failures


#: BatchGetSecretValue error codes that are denials (KMS included, as for GetSecretValue)
_DENIAL_CODES = ACCESS_DENIED_CODES | {"DecryptionFailure"}


def _failed_replicas(response: dict[str, Any]) -> builtins.list[str]:
    """`REGION (reason)` for each replica of a response's ReplicationStatus whose Status is
    Failed: AWS answers such a replication with HTTP 200 (e.g. a secret of that name already
    exists in the replica region)."""
    return [
        f"{status.get('Region')} ({status.get('StatusMessage') or 'no reason given'})"
        for status in response.get("ReplicationStatus") or []
        if str(status.get("Status")) == "Failed"
    ]


def _replica_failure(failed: builtins.list[str]) -> str:
    return f"replication failed in {', '.join(failed)}"


def _is_deletion_error(exc: AwsError) -> bool:
    return exc.code == "InvalidRequestException" and "delet" in exc.aws_message.lower()


def _is_kms_denial(exc: AwsError) -> bool:
    return exc.code.startswith("KMS") or exc.code == "DecryptionFailure" or mentions_kms(exc.aws_message, exc.resource)


def _is_resource_denial(exc: AwsError) -> bool:
    """Denied on the secret itself (not bad credentials, not the KMS key): under tag-conditioned
    policies a secret that does not exist is answered this way too."""
    return isinstance(exc, AccessDenied) and exc.code not in CREDENTIAL_CODES and not _is_kms_denial(exc)


class SecretsManagerVault(AwsVault):
    driver = "secretsmanager"
    service = "secretsmanager"

    def __init__(self, config: VaultConfig, namespace: str, project_root: str | None = None) -> None:
        super().__init__(config, namespace, project_root)
        # per stage: the listing's entries under the stage prefix without keep's tags
        self._foreign: dict[str, builtins.list[dict[str, Any]]] = {}

    # -- capabilities --------------------------------------------------------------------
    def replication(self) -> Replicating:
        return self

    def lambda_rotation(self) -> LambdaRotating:
        return self

    def incremental(self) -> Incremental:
        return self

    def deleted_listing(self) -> ListsDeleted:
        return self

    # -- names and configuration ---------------------------------------------------------
    def base_name(self, stage: str) -> str:
        parts = [self.namespace, self.config.scope.strip("/"), stage]
        return "/".join(part for part in parts if part)

    def remote_name(self, stage: str, key: str) -> str:
        return f"{self.base_name(stage)}/{key}"

    @property
    def stage_tag(self) -> str:
        return str(self.config.get("stage_tag") or "Stage")

    @property
    def replica_regions(self) -> list[str]:
        regions = self.config.get("replica_regions") or []
        primary = self.region
        # once each, in the order given: AWS takes a region twice as two replicas there
        return [r for r in dict.fromkeys(str(r) for r in regions) if r != primary]

    @property
    def recovery_window(self) -> int:
        value = self.config.get("recovery_window_days")
        return DEFAULT_RECOVERY_WINDOW if value is None else int(value)

    def tags(self, stage: str) -> list[dict[str, str]]:
        return [
            {"Key": "ManagedBy", "Value": "Keep"},
            {"Key": "Namespace", "Value": self.namespace},
            {"Key": self.stage_tag, "Value": stage},
            {"Key": "VaultSlug", "Value": self.slug},
        ]

    def description(self, stage: str, key: str) -> str:
        return f"Keep secret: {key} ({stage}, vault {self.slug})"

    def _matches(self, entry: dict[str, Any], stage: str) -> bool:
        tags = {str(t.get("Key")): str(t.get("Value")) for t in entry.get("Tags") or []}
        return (
            tags.get("ManagedBy") == "Keep"
            and tags.get("Namespace") == self.namespace
            and tags.get(self.stage_tag) == stage
        )

    # -- errors --------------------------------------------------------------------------
    def _not_found(self, stage: str, key: str, version: str | None = None) -> NotFound:
        name = self.remote_name(stage, key)
        if version:
            return NotFound(
                f"Version {version} of secret {name} not found in vault {self.slug}",
                key=key,
                remote_name=name,
                version=version,
            )
        return NotFound(f"Secret {name} not found in vault {self.slug}", key=key, remote_name=name)

    def _secret_error(self, exc: AwsError, stage: str, key: str, action: str, version: str | None = None) -> Exception:
        """Classify an error of a call addressed to one secret."""
        name = self.remote_name(stage, key)
        if exc.code == "ResourceNotFoundException":
            return self._not_found(stage, key, version)
        if _is_resource_denial(exc):
            return NotFoundOrDenied(
                f"Secret {name} not found or not permitted: AWS denied {action}",
                key=key,
                remote_name=name,
                action=action,
            )
        if _is_deletion_error(exc):
            return NotFound(
                f"Secret {name} is scheduled for deletion", key=key, remote_name=name, deleted=True
            )
        if exc.code == "DecryptionFailure":
            return AccessDenied(
                f"Cannot decrypt {name}: {exc.aws_message}",
                hint="the KMS key policy or a grant must allow this principal to use the secret's key",
            )
        return exc

    # -- replica fallback ----------------------------------------------------------------
    def _read(self, action: str, func: Callable[[str | None], T]) -> T:
        """Run a read in the primary region, then in each replica region while the failure is
        "unreachable". The primary's access denied and not-found answers are final; a replica's
        "not found" is not (a secret made before `replica_regions` was set and never replicated
        is missing there): the primary's Unreachable stays the answer."""
        try:
            return func(None)
        except Unreachable as first:
            last: Unreachable = first
            lacking: builtins.list[str] = []
            for region in self.replica_regions:
                try:
                    result = func(region)
                except Unreachable as exc:
                    last = exc
                    continue
                except NotFound:  # NotFoundOrDenied too: under tag policies that is "missing"
                    lacking.append(region)
                    continue
                self.notice(
                    f"{self.region} could not be reached for {action} ({first.message}); "
                    f"served by replica region {region}"
                )
                return result
            if lacking:
                first.hint = (
                    f"replica region {', '.join(lacking)} does not hold it (or does not permit it): a secret "
                    "made before replica_regions was set is replicated there only on request"
                )
                raise first from None
            raise last from None

    # -- reads ---------------------------------------------------------------------------
    def _decode(self, item: dict[str, Any]) -> str | None:
        if "SecretString" in item and item["SecretString"] is not None:
            return str(item["SecretString"])
        binary = item.get("SecretBinary")
        if isinstance(binary, bytes | bytearray):
            try:
                return bytes(binary).decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None

    def _secret(self, stage: str, key: str, item: dict[str, Any]) -> Secret:
        value = self._decode(item)
        name = str(item.get("Name") or self.remote_name(stage, key))
        if value is None:
            raise RemoteError(
                f"Secret {name} holds binary data (SecretBinary), which keep cannot handle as text",
                hint="read it with the AWS console or the AWS CLI",
            )
        return Secret(
            key=key,
            value=value,
            revision=str(item.get("VersionId", "")),
            modified=_as_datetime(item.get("CreatedDate")),
            vault=self.slug,
            stage=stage,
            secure=True,
            path=name,
        )

    def get(self, stage: str, key: str, version: str | None = None) -> Secret:
        name = self.remote_name(stage, key)
        params: dict[str, Any] = {"SecretId": name}
        if version is None:
            params["VersionStage"] = "AWSCURRENT"
        elif _VERSION_ID_RE.fullmatch(version):
            params["VersionId"] = version
        else:
            params["VersionStage"] = version

        def read(region: str | None) -> dict[str, Any]:
            try:
                response: dict[str, Any] = self.call("get_secret_value", name, region=region, **params)
            except AwsError as exc:
                if not (exc.code == "ResourceNotFoundException" and "VersionId" in params):
                    raise self._secret_error(exc, stage, key, "GetSecretValue", version) from None
                # a staging label (1-256 characters of any kind) may look like a version id
                try:
                    response = self.call("get_secret_value", name, region=region, SecretId=name, VersionStage=version)
                except AwsError as again:
                    raise self._secret_error(again, stage, key, "GetSecretValue", version) from None
            return response

        return self._secret(stage, key, self._read(f"GetSecretValue on {name}", read))

    def _entry_pages(self, stage: str, region: str | None) -> Iterator[builtins.list[dict[str, Any]]]:
        """ListSecrets pages of the stage, each filtered to names under the prefix with Keep's
        tags (`name` ignores case, so the exact check happens here). The filter is by name only,
        so secrets under the prefix made without keep's tags (in the console, by the AWS CLI)
        are seen too: they are kept aside for :meth:`unmanaged` rather than listed."""
        prefix = self.base_name(stage) + "/"
        params: dict[str, Any] = {
            "MaxResults": LIST_PAGE_SIZE,
            "IncludePlannedDeletion": False,
            "Filters": [{"Key": "name", "Values": [prefix]}],
        }
        foreign: builtins.list[dict[str, Any]] = []
        while True:
            page = self.call("list_secrets", prefix + "*", region=region, **params)
            mine: builtins.list[dict[str, Any]] = []
            for entry in page.get("SecretList", []):
                name = str(entry.get("Name", ""))
                if not name.startswith(prefix) or len(name) == len(prefix) or entry.get("DeletedDate") is not None:
                    continue
                (mine if self._matches(entry, stage) else foreign).append(entry)
            yield mine
            token = page.get("NextToken")
            if not token:
                self._foreign[stage] = foreign
                return
            params["NextToken"] = token

    def unmanaged(self, stage: str, values: bool = False) -> builtins.list[Secret]:
        """Secrets under the stage's prefix without keep's tags, from the stage's latest listing
        (listed now if this vault has not listed it yet). With `values`, their values are read
        in batches like a listing's; one that cannot be read is left out."""
        if stage not in self._foreign:
            self._read(f"listing {self.base_name(stage)}/", lambda region: self._entries(stage, region))
        prefix = self.base_name(stage) + "/"
        entries = sorted(self._foreign.get(stage, []), key=lambda e: str(e["Name"]))
        if not values:
            return [
                Secret(key=str(e["Name"])[len(prefix):], value="", revision=_current_version(e),
                       modified=_as_datetime(e.get("LastChangedDate")), vault=self.slug, stage=stage,
                       path=str(e["Name"]), managed=False)
                for e in entries
            ]
        listed = [ListedSecret(str(e["Name"])[len(prefix):], _current_version(e), str(e["ARN"]), str(e["Name"]))
                  for e in entries]
        chunks = [listed[i: i + BATCH_SIZE] for i in range(0, len(listed), BATCH_SIZE)]
        found: builtins.list[Secret] = []
        for responses in concurrent_map(lambda chunk: self.read_values(stage, chunk), chunks):
            for response in responses:
                for item in response.get("SecretValues", []):
                    if self._decode(item) is None:
                        continue
                    secret = self._secret(stage, str(item.get("Name", ""))[len(prefix):], item)
                    found.append(record.replace(secret, managed=False))
        return sorted(found, key=lambda s: s.key)

    def list_pages(self, stage: str, region: str | None = None) -> Iterator[builtins.list[ListedSecret]]:
        """The stage's secrets one ListSecrets page at a time, before any value is read: key,
        current version id (from the entry's version map), ARN and name."""
        prefix = self.base_name(stage) + "/"
        for page in self._entry_pages(stage, region):
            yield [
                ListedSecret(str(e["Name"])[len(prefix) :], _current_version(e), str(e["ARN"]), str(e["Name"]))
                for e in page
            ]

    def read_values(
        self, stage: str, listed: builtins.list[ListedSecret], region: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The BatchGetSecretValue response(s) for up to 20 listed secrets (by ARN)."""
        prefix = self.base_name(stage) + "/"
        params: dict[str, Any] = {"SecretIdList": [item.arn for item in listed]}
        responses = []
        while True:
            response = self.call(
                "batch_get_secret_value", f"{len(listed)} secrets under {prefix}", region=region, **params
            )
            responses.append(response)
            if not response.get("NextToken"):
                return responses
            params["NextToken"] = response["NextToken"]

    def _entries(self, stage: str, region: str | None) -> builtins.list[dict[str, Any]]:
        return [entry for page in self._entry_pages(stage, region) for entry in page]

    def list(self, stage: str) -> list[Secret]:
        return self._read(f"listing {self.base_name(stage)}/", lambda region: self._list(stage, region))

    def references(self, stage: str) -> builtins.list[Reference]:
        """ARNs from ListSecrets alone (no GetSecretValue): the primary region's, as a task
        definition or stack there needs them."""
        prefix = self.base_name(stage) + "/"
        def reference(entry: dict[str, Any]) -> Reference:
            name, arn = str(entry["Name"]), str(entry["ARN"])
            return Reference(
                key=name[len(prefix):], vault=self.slug, stage=stage, service=self.driver, name=name, arn=arn,
                addresses={"ecs": arn, "cloudformation": f"{{{{resolve:secretsmanager:{arn}:SecretString}}}}",
                           "external-secrets": name},
            )

        refs = [reference(entry) for entry in self._entries(stage, None)]
        return sorted(refs, key=lambda r: r.key)

    def deleted(self, stage: str) -> builtins.list[DeletedSecret]:
        """Secrets of the stage scheduled for deletion (still restorable within the recovery
        window), from ListSecrets with IncludePlannedDeletion - no value read. Only keep's own
        (its tags for this namespace and stage) under the stage's prefix are listed."""
        return self._read(f"listing deleted {self.base_name(stage)}/", lambda region: self._deleted(stage, region))

    def _deleted(self, stage: str, region: str | None) -> builtins.list[DeletedSecret]:
        prefix = self.base_name(stage) + "/"
        params: dict[str, Any] = {
            "MaxResults": LIST_PAGE_SIZE,
            "IncludePlannedDeletion": True,
            "Filters": [{"Key": "name", "Values": [prefix]}],
        }
        found: builtins.list[DeletedSecret] = []
        while True:
            page = self.call("list_secrets", prefix + "*", region=region, **params)
            for entry in page.get("SecretList", []):
                name = str(entry.get("Name", ""))
                if not name.startswith(prefix) or len(name) == len(prefix) or entry.get("DeletedDate") is None:
                    continue
                if self._matches(entry, stage):
                    found.append(DeletedSecret(key=name[len(prefix):], vault=self.slug, stage=stage, name=name,
                                               deleted=_as_datetime(entry.get("DeletedDate"))))
            token = page.get("NextToken")
            if not token:
                return sorted(found, key=lambda d: d.key)
            params["NextToken"] = token

    def _list(self, stage: str, region: str | None) -> builtins.list[Secret]:
        names: dict[str, str] = {}

        def fetch(chunk: builtins.list[ListedSecret]) -> builtins.list[dict[str, Any]]:
            names.update((item.arn, item.name) for item in chunk)
            return self.read_values(stage, chunk, region)

        # the batch reads of a page's ARNs start while the next ListSecrets page is fetched
        responses = pipelined(self.list_pages(stage, region), BATCH_SIZE, fetch, name="keep-sm", hold=True)
        return self._collect(stage, responses, names, region)

    def list_changed(
        self, stage: str, known: Callable[[str, str], bool]
    ) -> tuple[builtins.list[tuple[str, str]], builtins.list[Secret]]:
        """The listing's (key, AWSCURRENT version id) pairs, and the values of the keys not
        `known` at that version, read in BatchGetSecretValue batches pipelined with the pages
        (the cache's refresh: ceil(N/100) calls when nothing changed)."""
        return self._read(
            f"listing {self.base_name(stage)}/", lambda region: self._list_changed(stage, known, region)
        )

    def _list_changed(
        self, stage: str, known: Callable[[str, str], bool], region: str | None
    ) -> tuple[builtins.list[tuple[str, str]], builtins.list[Secret]]:
        names: dict[str, str] = {}
        listed: builtins.list[tuple[str, str]] = []

        def pages() -> Iterator[builtins.list[ListedSecret]]:
            for page in self.list_pages(stage, region):
                listed.extend((item.key, item.version) for item in page)
                yield [item for item in page if not known(item.key, item.version)]

        def fetch(chunk: builtins.list[ListedSecret]) -> builtins.list[dict[str, Any]]:
            names.update((item.arn, item.name) for item in chunk)
            return self.read_values(stage, chunk, region)

        responses = pipelined(pages(), BATCH_SIZE, fetch, name="keep-sm", hold=True)
        return listed, self._collect(stage, responses, names, region)

    def _collect(
        self, stage: str, responses: builtins.list[dict[str, Any]], names: dict[str, str], region: str | None = None
    ) -> builtins.list[Secret]:
        """The secrets of BatchGetSecretValue responses; PartialList when any could not be read."""
        prefix = self.base_name(stage) + "/"
        secrets: builtins.list[Secret] = []
        failures: dict[str, str] = {}
        denied = 0
        for response in responses:
            for batched in response.get("SecretValues", []):
                name = str(batched.get("Name", ""))
                key = name[len(prefix) :]
                try:
                    item = self._current_entry(batched, region)
                except Unreachable:
                    raise  # the replica fallback's business
                except AwsError as exc:
                    if exc.code == "ResourceNotFoundException" or _is_deletion_error(exc):
                        continue  # deleted since the batch read
                    failures[name] = exc.one_line()
                    denied += isinstance(exc, AccessDenied)
                    continue
                value = self._decode(item)
                if value is None:
                    failures[name] = "binary secret (not text)"
                    continue
                secrets.append(self._secret(stage, key, item))
            for error in response.get("Errors", []):
                code = str(error.get("ErrorCode", ""))
                message = str(error.get("Message", ""))
                # deleted between the listing and the batch read: it is simply gone
                if code == "ResourceNotFoundException" or (
                    code == "InvalidRequestException" and "delet" in message.lower()
                ):
                    continue
                secret_id = str(error.get("SecretId", ""))
                failures[names.get(secret_id, secret_id)] = f"{code}: {message}".strip(": ")
                denied += code in _DENIAL_CODES or code.startswith("KMS")
        secrets.sort(key=lambda s: s.key)
        if failures:
            detail = "; ".join(f"{name} ({reason})" for name, reason in sorted(failures.items()))
            if not secrets and denied == len(failures):
                raise DeniedList(
                    f"Access denied: BatchGetSecretValue of every secret under {prefix} ({len(failures)}): {detail}",
                    failures,
                )
            raise PartialList(
                f"Could not read {len(failures)} of {len(names)} secrets under {prefix}: {detail}",
                secrets,
                failures,
            )
        return secrets

    def _current_entry(self, item: dict[str, Any], region: str | None) -> dict[str, Any]:
        """`item` of a BatchGetSecretValue answer, or - when its VersionStages lack AWSCURRENT -
        that secret's AWSCURRENT read explicitly. The batch call cannot name a staging label, and
        moto (an endpoint_url keep supports) answers it with the version last written rather than
        the one AWSCURRENT points at after UpdateSecretVersionStage (`rollback`); AWS itself never
        needs the second read."""
        stages = item.get("VersionStages")
        if not isinstance(stages, list) or "AWSCURRENT" in stages:
            return item
        name = str(item.get("Name", ""))
        secret_id = str(item.get("ARN") or name)
        current: dict[str, Any] = self.call(
            "get_secret_value", name, region=region, SecretId=secret_id, VersionStage="AWSCURRENT"
        )
        return current

    def history(self, stage: str, key: str, limit: int | None = None) -> builtins.list[Version]:
        return self._read(
            f"history of {self.remote_name(stage, key)}", lambda region: self._history(stage, key, limit, region)
        )

    def _history(self, stage: str, key: str, limit: int | None, region: str | None) -> builtins.list[Version]:
        name = self.remote_name(stage, key)
        params: dict[str, Any] = {"SecretId": name, "IncludeDeprecated": True, "MaxResults": HISTORY_PAGE_SIZE}
        versions: builtins.list[dict[str, Any]] = []
        while True:
            try:
                page = self.call("list_secret_version_ids", name, region=region, **params)
            except AwsError as exc:
                raise self._secret_error(exc, stage, key, "ListSecretVersionIds") from None
            versions.extend(page.get("Versions", []))
            token = page.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
        if not versions:
            raise self._not_found(stage, key)
        order = {id(v): i for i, v in enumerate(versions)}

        def rank(entry: dict[str, Any]) -> tuple[float, int, int]:
            # creation time first; on equal timestamps (second precision), current before
            # previous before the rest, then the API's order (oldest first)
            stages = entry.get("VersionStages") or []
            label = 2 if "AWSCURRENT" in stages else 1 if "AWSPREVIOUS" in stages else 0
            created = entry.get("CreatedDate")
            stamp = created.timestamp() if isinstance(created, datetime) else 0.0
            return (stamp, label, order[id(entry)])

        versions.sort(key=rank, reverse=True)
        if limit is not None:
            versions = versions[: max(limit, 0)]

        def value_of(entry: dict[str, Any]) -> str | None:
            try:
                response = self.call(
                    "get_secret_value", name, region=region, SecretId=name, VersionId=entry["VersionId"]
                )
            except AwsError:
                return None
            return self._decode(response)

        values = concurrent_map(value_of, versions)
        return [
            Version(
                version=str(entry["VersionId"]),
                value=value,
                modified=_as_datetime(entry.get("CreatedDate")),
                by=None,
                labels=tuple(entry.get("VersionStages") or ()),
                current="AWSCURRENT" in (entry.get("VersionStages") or ()),
                secure=True,
            )
            for entry, value in zip(versions, values, strict=True)
        ]

    # -- writes --------------------------------------------------------------------------
    def _check_value(self, stage: str, key: str, value: str) -> None:
        if value == "":
            raise UsageError(
                f"Secrets Manager cannot hold an empty value ('{key}' in {self.slug}:{stage})",
                hint="store a placeholder value, or use the local vault",
            )
        size = len(value.encode("utf-8"))
        if size > MAX_VALUE_BYTES:
            raise UsageError(
                f"Value of '{key}' is {size} bytes; Secrets Manager holds at most {MAX_VALUE_BYTES}",
                hint="store the value in a file and keep its path or a reference instead",
            )

    def _put_value(self, stage: str, key: str, value: str) -> WriteResult:
        name = self.remote_name(stage, key)
        response = self.call("put_secret_value", name, SecretId=name, SecretString=value)
        return WriteResult(revision=str(response.get("VersionId", "")), created=False)

    def set(self, stage: str, key: str, value: str, secure: bool = True) -> WriteResult:
        self._check_value(stage, key, value)
        try:
            return self._adopt(stage, key, self._put_value(stage, key, value))
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                denied: AwsError | None = None
            elif _is_resource_denial(exc):
                denied = exc
            elif _is_deletion_error(exc):
                raise self._scheduled_for_deletion(stage, key) from None
            else:
                raise
        try:
            return self._create(stage, key, value, denied=denied)
        except PreconditionFailed:
            # created by another writer between our put and our create: `set` is
            # create-or-update, so our value goes on top of theirs (their version stays in
            # the history) instead of being lost
            try:
                return self._put_value(stage, key, value)
            except AwsError as exc:
                if _is_deletion_error(exc):
                    raise self._scheduled_for_deletion(stage, key) from None
                raise

    def _adopt(self, stage: str, key: str, result: WriteResult) -> WriteResult:
        """After a write to an existing secret: give it keep's four tags (`TagResource`, the
        same tags CreateSecret sets), so a secret made outside keep becomes managed and shows
        in every listing. The value is written already, so a failure here is a note, not an
        error."""
        name = self.remote_name(stage, key)
        try:
            self.call("tag_resource", name, SecretId=name, Tags=self.tags(stage))
        except AwsError as exc:
            note = f"{name} was updated, but keep's tags could not be set on it: {exc.one_line()}"
            return record.replace(result, note=note)
        known = self._foreign.get(stage)
        if known is None:
            return result
        self._foreign[stage] = [e for e in known if str(e.get("Name")) != name]
        return record.replace(result, adopted=len(self._foreign[stage]) < len(known))

    def set_if(self, stage: str, key: str, value: str, expect: Expect, secure: bool = True) -> WriteResult:
        """Create with `CreateSecret` alone (AWS refuses an existing name); update after a
        `DescribeSecret` check that `AWSCURRENT` is still the planned version. Secrets Manager
        has no compare-and-set, so a write landing between that check and the
        `PutSecretValue` (milliseconds) is not detected."""
        self._check_value(stage, key, value)
        if expect.absent:
            return self._create(stage, key, value, denied=None)
        current = self._current_version(stage, key)
        if not expect.holds(current):
            raise expect.failure(f"{self.slug}:{stage}", key, current)
        try:
            return self._put_value(stage, key, value)
        except AwsError as exc:
            if _is_deletion_error(exc):
                raise self._scheduled_for_deletion(stage, key) from None
            raise

    def _current_version(self, stage: str, key: str) -> str | None:
        """The version id holding AWSCURRENT (None when the secret is missing or being deleted)."""
        try:
            described = self._describe(stage, key)
        except NotFound:
            return None
        if described.get("DeletedDate") is not None:
            return None
        for version, stages in (described.get("VersionIdsToStages") or {}).items():
            if "AWSCURRENT" in (stages or ()):
                return str(version)
        return None

    def _scheduled_for_deletion(self, stage: str, key: str) -> Conflict:
        return Conflict(
            f"Secret {self.remote_name(stage, key)} is scheduled for deletion",
            key=key,
            remote_name=self.remote_name(stage, key),
            deleted=True,
        )

    def _create(self, stage: str, key: str, value: str, denied: AwsError | None) -> WriteResult:
        """`CreateSecret`; a name that exists is PreconditionFailed (or, after a denied put,
        that denial: the secret exists, so the put was really refused)."""
        name = self.remote_name(stage, key)
        params: dict[str, Any] = {
            "Name": name,
            "SecretString": value,
            "Description": self.description(stage, key),
            "Tags": self.tags(stage),
        }
        kms_key = self.config.get("key")
        if kms_key:
            params["KmsKeyId"] = str(kms_key)
        replicas = self.replica_regions
        if replicas:
            params["AddReplicaRegions"] = [{"Region": region} for region in replicas]
        try:
            response = self.call("create_secret", name, **params)
        except AwsError as exc:
            if exc.code == "ResourceExistsException":
                if denied is not None:
                    raise denied from None
                if any(str(e.get("Name")) == name for e in self._foreign.get(stage, [])):
                    # not a race: the listing saw it, without keep's tags
                    raise Conflict(
                        f"Secret {name} exists but was not made by keep (no keep tags); not overwritten",
                        key=key,
                        remote_name=name,
                    ) from None
                raise Expect(None).failure(f"{self.slug}:{stage}", key, "?") from None
            if _is_deletion_error(exc):
                raise self._scheduled_for_deletion(stage, key) from None
            if denied is not None and isinstance(exc, AccessDenied):
                raise AccessDenied(
                    f"Access denied: PutSecretValue and CreateSecret on {name} "
                    f"(the secret is missing or not permitted; {exc.aws_message or exc.code})",
                    key=key,
                    remote_name=name,
                    action="PutSecretValue and CreateSecret",
                ) from None
            raise
        failed = _failed_replicas(response)
        note = f"{name} was created, but its {_replica_failure(failed)}" if failed else None
        return WriteResult(revision=str(response.get("VersionId", "")), created=True, note=note)

    def delete(self, stage: str, key: str, purge: bool = False) -> None:
        name = self.remote_name(stage, key)
        params: dict[str, Any] = {"SecretId": name}
        if purge or self.recovery_window == 0:
            # AWS answers a forced delete of a secret that does not exist (or is already gone)
            # with success, "to handle retries": only a DescribeSecret first can say not found
            self._describe(stage, key)
            params["ForceDeleteWithoutRecovery"] = True
        else:
            params["RecoveryWindowInDays"] = self.recovery_window
        try:
            self.call("delete_secret", name, **params)
        except AwsError as exc:
            if not (exc.code == "InvalidParameterException" and "replica" in exc.aws_message.lower()):
                raise self._secret_error(exc, stage, key, "DeleteSecret") from None
        else:
            return
        # AWS refuses to delete a secret that still has replicas: drop them first (a restore
        # re-creates those the vault configures)
        regions = [str(r.get("Region")) for r in self._describe(stage, key).get("ReplicationStatus") or []]
        if regions:
            self.call("remove_regions_from_replication", name, SecretId=name, RemoveReplicaRegions=regions)
        try:
            self.call("delete_secret", name, **params)
        except AwsError as exc:
            raise self._secret_error(exc, stage, key, "DeleteSecret") from None

    def delete_is_restorable(self, purge: bool = False) -> bool:
        return not purge and self.recovery_window != 0  # 0: ForceDeleteWithoutRecovery

    def _describe(self, stage: str, key: str) -> dict[str, Any]:
        name = self.remote_name(stage, key)
        try:
            response: dict[str, Any] = self.call("describe_secret", name, SecretId=name)
        except AwsError as exc:
            raise self._secret_error(exc, stage, key, "DescribeSecret") from None
        return response

    def restore(self, stage: str, key: str) -> None:
        name = self.remote_name(stage, key)
        if self._describe(stage, key).get("DeletedDate") is None:
            raise Conflict(f"Secret {name} is not scheduled for deletion; nothing to restore")
        try:
            self.call("restore_secret", name, SecretId=name)
        except AwsError as exc:
            raise self._secret_error(exc, stage, key, "RestoreSecret") from None
        replicas = self.replica_regions
        if replicas:
            try:
                response = self.call(
                    "replicate_secret_to_regions",
                    name,
                    SecretId=name,
                    AddReplicaRegions=[{"Region": region} for region in replicas],
                    ForceOverwriteReplicaSecret=False,
                )
            except AwsError as exc:
                self.notice(f"{name} is restored but its replicas are not: {exc.one_line()} (replicate it again)")
                return
            failed = _failed_replicas(response)
            if failed:
                self.notice(f"{name} is restored, but its {_replica_failure(failed)}")

    def rollback(self, stage: str, key: str, version: str) -> WriteResult:
        name = self.remote_name(stage, key)
        stages: dict[str, builtins.list[str]] = self._describe(stage, key).get("VersionIdsToStages") or {}
        current = next((vid for vid, labels in stages.items() if "AWSCURRENT" in labels), None)
        target = version if version in stages else None
        if target is None:
            target = next((vid for vid, labels in stages.items() if version in labels), None)
        if target is None and _VERSION_ID_RE.fullmatch(version):
            target = version  # a deprecated version carries no label; AWS decides if it exists
        if target is None:
            raise self._not_found(stage, key, version)
        if target == current:
            return WriteResult(revision=target, created=False)
        params: dict[str, Any] = {"SecretId": name, "VersionStage": "AWSCURRENT", "MoveToVersionId": target}
        if current:
            params["RemoveFromVersionId"] = current
        try:
            self.call("update_secret_version_stage", name, **params)
        except AwsError as exc:
            if exc.code in ("ResourceNotFoundException", "InvalidParameterException"):
                raise self._not_found(stage, key, version) from None
            raise self._secret_error(exc, stage, key, "UpdateSecretVersionStage") from None
        return WriteResult(revision=target, created=False)

    # -- rotation ------------------------------------------------------------------------
    def rotate_with_lambda(self, stage: str, key: str, lambda_arn: str, every_days: int | None = None) -> WriteResult:
        """Configure Secrets Manager rotation with `lambda_arn` and start a rotation now."""
        name = self.remote_name(stage, key)
        params: dict[str, Any] = {"SecretId": name, "RotationLambdaARN": lambda_arn, "RotateImmediately": True}
        if every_days is not None:
            if every_days < 1 or every_days > 1000:
                raise UsageError(f"Rotation interval must be 1-1000 days, not {every_days}")
            params["RotationRules"] = {"AutomaticallyAfterDays": every_days}
        try:
            response = self.call("rotate_secret", name, **params)
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException" and self._secret_exists(name):
                # the missing resource is the rotation Lambda, not the secret
                raise NotFound(
                    f"Rotation Lambda {lambda_arn} not found (Secrets Manager could not find it for {name}): "
                    f"{exc.aws_message}",
                    hint="check the function ARN and its region, and that the function exists",
                ) from None
            raise self._secret_error(exc, stage, key, "RotateSecret") from None
        return WriteResult(revision=str(response.get("VersionId") or ""), created=False)

    def _secret_exists(self, name: str) -> bool:
        """Whether the secret itself exists (one DescribeSecret, only to word an error)."""
        try:
            self.call("describe_secret", name, SecretId=name)
        except AwsError:
            return False
        return True

    # -- replication ---------------------------------------------------------------------
    def replication_plan(self, stage: str) -> builtins.list[ReplicaChange]:
        """For each secret of the stage: the replica regions to add and to remove so that it
        matches the vault's `replica_regions`."""
        wanted = set(self.replica_regions)
        prefix = self.base_name(stage) + "/"
        entries = self._entries(stage, None)

        def plan(entry: dict[str, Any]) -> ReplicaChange:
            name = str(entry["Name"])
            change = ReplicaChange(key=name[len(prefix) :], name=name)
            try:
                described = self.call("describe_secret", name, SecretId=name)
            except AwsError as exc:
                change.error = exc.one_line()
                return change
            have = {str(r.get("Region")) for r in described.get("ReplicationStatus") or []}
            change.add = sorted(wanted - have)
            change.remove = sorted(have - wanted)
            failed = _failed_replicas(described)
            if failed:  # a failed replica is no replica: say so rather than "in sync"
                change.error = _replica_failure(failed)
            return change

        changes = concurrent_map(plan, entries)
        return sorted(changes, key=lambda c: c.key)

    def replicate(self, stage: str, dry_run: bool = False) -> builtins.list[ReplicaChange]:
        """Bring every secret of the stage in line with `replica_regions`."""
        changes = self.replication_plan(stage)
        if dry_run:
            return changes

        def apply(change: ReplicaChange) -> ReplicaChange:
            if change.error or not change.changed:
                return change
            try:
                if change.add:
                    response = self.call(
                        "replicate_secret_to_regions",
                        change.name,
                        SecretId=change.name,
                        AddReplicaRegions=[{"Region": region} for region in change.add],
                        ForceOverwriteReplicaSecret=False,
                    )
                    failed = _failed_replicas(response)
                    if failed:
                        change.error = _replica_failure(failed)
                if change.remove:
                    self.call(
                        "remove_regions_from_replication",
                        change.name,
                        SecretId=change.name,
                        RemoveReplicaRegions=change.remove,
                    )
            except AwsError as exc:
                change.error = exc.one_line()
            return change

        return concurrent_map(apply, changes)


def _as_datetime(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _check_window(days: int) -> int:
    if not (days == 0 or 7 <= days <= 30):
        raise ValueError("use 7-30, or 0 to delete at once")
    return days


DRIVER = Driver(
    name="secretsmanager",
    label="AWS Secrets Manager",
    vault_class=SecretsManagerVault,
    options=(
        *aws_options("alias/aws/secretsmanager"),
        Option("replica_regions", "Comma-separated replica regions", kind="list", validate=check_region,
               prompt="Replica regions (optional, comma-separated)"),
        Option("recovery_window_days", "Days a deleted secret stays restorable, 7-30 or 0", kind="int",
               validate=_check_window, default=DEFAULT_RECOVERY_WINDOW),
        Option("stage_tag", "Stage tag key", kind="choice", choices=("Stage", "Env"), default="Stage"),
    ),
    capabilities=Capabilities(
        restore=True, list_deleted=True, history=True, replication=True, lambda_rotation=True,
        native_versions=True, conditional_writes=True, references=True, incremental=True,
    ),
    write_interval=0.05,
    remote=True,
    rename_note="secrets created before the rename keep their tag VaultSlug={old}; "
    "keep's generated IAM policy does not depend on it",
    probe_hints={
        "list": "KeepSecretsManagerList: secretsmanager:ListSecrets and "
        "secretsmanager:BatchGetSecretValue on *, plus GetSecretValue on the stage's secrets",
        "read": "KeepSecretsManagerRead/ReadWrite: secretsmanager:GetSecretValue "
        "conditioned on the secret's ManagedBy/Namespace/Stage tags",
        "history": "KeepSecretsManagerRead/ReadWrite: secretsmanager:ListSecretVersionIds "
        "conditioned on the secret's tags",
        "write": "KeepSecretsManagerCreate (secretsmanager:CreateSecret with "
        "aws:RequestTag conditions), KeepSecretsManagerTagOnCreate and KeepSecretsManagerReadWrite "
        "(secretsmanager:PutSecretValue)",
        "delete": "KeepSecretsManagerReadWrite: secretsmanager:DeleteSecret conditioned on the secret's tags",
    },
)
