"""The `ssm` driver: AWS Systems Manager Parameter Store (SPEC §4.2).

* Name: `/{namespace}/{scope/}{stage}/{KEY}`.
* `set` is one `PutParameter(Overwrite=True)`: its returned Version is the revision, so no
  read-back (PHP Keep does one). `KeyId` goes only with SecureString: AWS rejects it on a
  plain `String`.
* Values over the tier's limit (4 KB Standard, 8 KB Advanced/Intelligent-Tiering) are refused
  before any call, with a hint.
* `list` reads the names (and versions, no values) from `DescribeParameters` pages (Path
  filter, Recursive, 50 per page: ceil(N/50) calls, one after the other since each needs the
  previous page's token) and the values with `GetParameters(WithDecryption)` 10 names per
  call, started as soon as each page of names arrives and run concurrently: ceil(N/50) +
  ceil(N/10) calls, but only ceil(N/50) + 1 round trips on the critical path (PHP Keep's
  `GetParametersByPath` pages of 10 are ceil(N/10) round trips in a row). Value reads pass
  a per-region limit of 40 starts per second (`KEEP_SSM_READ_TPS`): GetParameter,
  GetParameters and GetParametersByPath share Parameter Store's default 40 TPS quota.
* `ssm:DescribeParameters` cannot be scoped to a path, so some policies lack it: when it (or
  `GetParameters`) is denied, the listing falls back to `GetParametersByPath(Recursive,
  WithDecryption, MaxResults=10)` pages with identical output, and remembers that for the
  rest of the process (one denied call per process, not per stage), silently.
* `list_pages()` yields each DescribeParameters page as (key, version) pairs before any value
  is read, and `read_values()` reads the values of chosen keys, so a cache can skip the
  versions it already holds. Keys of nested parameters are shown as stored (`sub/KEY`),
  never rewritten.
* `history` reads every `GetParameterHistory` page (AWS returns oldest first) and sorts newest
  first, so a long history never hides the latest changes (PHP Keep's bug).
* `rollback` puts the old value as a new version: Parameter Store has no "current" pointer.
* Deletion is immediate: Parameter Store keeps nothing to restore.
"""

from __future__ import annotations

import _thread
import builtins
import collections
import os
import re
from collections.abc import Callable, Iterator
from datetime import datetime

from ..concurrency import RateLimiter, pipelined
from ..model import AccessDenied, Expect, NotFound, PreconditionFailed, Secret, UsageError, Version, WriteResult
from .aws import CREDENTIAL_CODES, AwsError, AwsVault, aws_options, mentions_kms
from .base import Reference
from .registry import Capabilities, Driver, Option

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: start-up)
if TYPE_CHECKING:  # the cache module loads only where a cache is used (SPEC §12: start-up)
    from typing import Any, NamedTuple

    from .cache import Incremental

TIER_LIMITS = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}
PAGE_SIZE = 10  # GetParametersByPath (the fallback listing): AWS's maximum
DESCRIBE_PAGE_SIZE = 50  # DescribeParameters: AWS's maximum
VALUES_PER_CALL = 10  # GetParameters: AWS's maximum
HISTORY_PAGE_SIZE = 50
DEFAULT_READ_TPS = 40  # GetParameter + GetParameters + GetParametersByPath, per account and region
#: what a parameter name may hold; `NAME:3` / `NAME:label` select a version of NAME
_NAME_CHARS = re.compile(r"[A-Za-z0-9_.\-/]+")


if TYPE_CHECKING:

    class Listed(NamedTuple):
        """One parameter of a DescribeParameters page: its key in the stage and its version."""

        key: str
        version: str

else:  # the same tuple, without importing typing
    Listed = collections.namedtuple("Listed", ["key", "version"])

_state_lock = _thread.allocate_lock()  # threading.Lock(), without importing threading
# (profile, endpoint, region) of the vaults whose DescribeParameters/GetParameters were denied
_describe_denied: set[tuple[str | None, str | None, str]] = set()
_limiters: dict[str, RateLimiter] = {}


def read_tps() -> int:
    try:
        value = int(os.environ.get("KEEP_SSM_READ_TPS", ""))
    except ValueError:
        return DEFAULT_READ_TPS
    return max(1, min(value, 10000))


def read_limiter(region: str) -> RateLimiter:
    """The process-wide limiter of Parameter Store value reads in `region`."""
    rate = read_tps()
    with _state_lock:
        limiter = _limiters.get(region)
        if limiter is None or limiter.rate != rate:
            limiter = _limiters[region] = RateLimiter(rate)
        return limiter


def _is_denial(exc: AwsError) -> bool:
    """Denied by policy (not bad credentials, not the KMS key): the case where another call
    may be allowed. A KMS denial is no such case: GetParametersByPath decrypts the same values."""
    return (
        isinstance(exc, AccessDenied)
        and exc.code not in CREDENTIAL_CODES
        and not exc.code.startswith("KMS")
        and not mentions_kms(exc.aws_message, exc.resource)
    )


class _ListingDenied(Exception):
    """DescribeParameters or GetParameters was denied: list with GetParametersByPath instead."""

    def __init__(self, error: AwsError) -> None:
        super().__init__(error.message)
        self.error = error


class SsmVault(AwsVault):
    driver = "ssm"
    service = "ssm"

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
            key=key,
            remote_name=name,
        )

    def _existing_name(self, stage: str, key: str) -> str:
        """The parameter name of a key to find. A key Parameter Store cannot hold (a lookup key
        may hold any printable character) is not found, with no call: `DB:1` would otherwise
        read version 1 of DB."""
        name = self.remote_name(stage, key)
        if not _NAME_CHARS.fullmatch(key):
            raise self._not_found(stage, key, name)
        return name

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

    def incremental(self) -> Incremental:
        return self

    # -- reads ---------------------------------------------------------------------------
    def list_changed(
        self, stage: str, known: Callable[[str, str], bool]
    ) -> tuple[builtins.list[tuple[str, str]], builtins.list[Secret]]:
        """The DescribeParameters listing's (key, Version) pairs, and the values of the keys
        not `known` at that version (GetParameters batches of 10 pipelined with the pages).
        Where DescribeParameters is denied, the GetParametersByPath listing reads every value
        anyway, so all of them are returned."""
        identity = (self.profile, self.endpoint_url, self.region)
        with _state_lock:
            denied = identity in _describe_denied
        if not denied:
            listed: builtins.list[tuple[str, str]] = []

            def pages() -> Iterator[builtins.list[Listed]]:
                for page in self.list_pages(stage):
                    listed.extend(page)
                    yield [item for item in page if not known(item.key, item.version)]

            try:
                secrets = pipelined(pages(), VALUES_PER_CALL, lambda chunk: self.read_values(stage, chunk),
                                    name="keep-ssm", hold=True)
            except _ListingDenied:
                with _state_lock:
                    _describe_denied.add(identity)
            else:
                return listed, secrets
        everything = self._list_by_path(stage)
        return [(s.key, s.revision) for s in everything], everything

    def list(self, stage: str) -> list[Secret]:
        identity = (self.profile, self.endpoint_url, self.region)
        with _state_lock:
            denied = identity in _describe_denied
        if not denied:
            try:
                secrets = pipelined(
                    self.list_pages(stage), VALUES_PER_CALL, lambda chunk: self.read_values(stage, chunk),
                    name="keep-ssm", hold=True,
                )
            except _ListingDenied:
                with _state_lock:
                    _describe_denied.add(identity)
            else:
                secrets.sort(key=lambda s: s.key)
                return secrets
        return self._list_by_path(stage)

    def list_pages(self, stage: str) -> Iterator[builtins.list[Listed]]:
        """The stage's parameters, one DescribeParameters page at a time: names and versions,
        no values (ssm:DescribeParameters reveals no value)."""
        base = self.base_path(stage)
        params: dict[str, Any] = {
            "ParameterFilters": [{"Key": "Path", "Option": "Recursive", "Values": [base]}],
            "MaxResults": DESCRIBE_PAGE_SIZE,
        }
        while True:
            try:
                page = self.call("describe_parameters", base, **params)
            except AwsError as exc:
                if _is_denial(exc):
                    raise _ListingDenied(exc) from None
                raise
            listed = []
            for param in page.get("Parameters", []):
                name = str(param.get("Name", ""))
                if name.startswith(base + "/") and len(name) > len(base) + 1:
                    listed.append(Listed(name[len(base) + 1 :], str(param.get("Version", ""))))
            yield listed
            token = page.get("NextToken")
            if not token:
                return
            params["NextToken"] = token

    def read_values(self, stage: str, listed: builtins.list[Listed]) -> builtins.list[Secret]:
        """The current values of up to 10 listed keys (one GetParameters call). A parameter
        deleted since it was listed is left out, as if the listing had come a moment later."""
        base = self.base_path(stage)
        names = [f"{base}/{item.key}" for item in listed]
        if not names:
            return []
        read_limiter(self.region).acquire()
        resource = names[0] if len(names) == 1 else f"{len(names)} parameters under {base}/"
        try:
            response = self.call("get_parameters", resource, Names=names, WithDecryption=True)
        except AwsError as exc:
            if _is_denial(exc):
                raise _ListingDenied(exc) from None
            raise
        wanted = set(names)
        return [
            self._secret(stage, str(param["Name"])[len(base) + 1 :], param)
            for param in response.get("Parameters", [])
            if str(param.get("Name", "")) in wanted
        ]

    def _list_by_path(self, stage: str) -> builtins.list[Secret]:
        """The fallback listing (no ssm:DescribeParameters): GetParametersByPath pages of 10."""
        base = self.base_path(stage)
        params: dict[str, Any] = {
            "Path": base,
            "Recursive": True,
            "WithDecryption": True,
            "MaxResults": PAGE_SIZE,
        }
        secrets: builtins.list[Secret] = []
        limiter = read_limiter(self.region)
        while True:
            limiter.acquire()
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

    def references(self, stage: str) -> builtins.list[Reference]:
        """Names, types and ARNs from DescribeParameters (metadata only, no GetParameter*).
        AWS includes each parameter's ARN; where an endpoint does not, the ARN is built from
        the region and the account of one STS GetCallerIdentity (which needs no permission)."""
        base = self.base_path(stage)
        params: dict[str, Any] = {
            "ParameterFilters": [{"Key": "Path", "Option": "Recursive", "Values": [base]}],
            "MaxResults": DESCRIBE_PAGE_SIZE,
        }
        found: builtins.list[dict[str, Any]] = []
        while True:
            page = self.call("describe_parameters", base, **params)
            found.extend(
                p for p in page.get("Parameters", [])
                if str(p.get("Name", "")).startswith(base + "/") and len(str(p["Name"])) > len(base) + 1
            )
            token = page.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
        account: tuple[str, str] | None = None
        refs: builtins.list[Reference] = []
        for param in found:
            name = str(param["Name"])
            arn = param.get("ARN")
            if not arn:
                if account is None:
                    account = self.caller_partition_and_account()
                arn = f"arn:{account[0]}:ssm:{self.region}:{account[1]}:parameter{name}"
            secure = param.get("Type") == "SecureString"
            resolver = "ssm-secure" if secure else "ssm"
            refs.append(Reference(
                key=name[len(base) + 1:], vault=self.slug, stage=stage, service=self.driver, name=name, arn=str(arn),
                secure=secure,
                addresses={"ecs": str(arn), "cloudformation": f"{{{{resolve:{resolver}:{name}}}}}",
                           "external-secrets": name},
            ))
        return sorted(refs, key=lambda r: r.key)

    def get(self, stage: str, key: str, version: str | None = None) -> Secret:
        name = self._existing_name(stage, key)
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
                    key=key,
                    remote_name=name,
                    version=version,
                ) from None
            if exc.code == "ValidationException" and version:
                raise NotFound(
                    f"Version {version} of '{key}' not found in {self.slug}:{stage}: {exc.aws_message}",
                    key=key,
                    remote_name=name,
                    version=version,
                ) from None
            raise
        return self._secret(stage, key, response["Parameter"])

    def history(self, stage: str, key: str, limit: int | None = None) -> builtins.list[Version]:
        name = self._existing_name(stage, key)
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
                # Secrets Manager refuses empty values too: only the local vault holds one
                hint="store a placeholder value, or use a local vault",
            )
        size = len(value.encode("utf-8"))
        tier = self.tier
        limit = TIER_LIMITS.get(tier, TIER_LIMITS["Standard"])
        if size > limit:
            hint = (
                "set the vault's tier to Advanced (8 KB), or use Secrets Manager (64 KB)"
                if tier == "Standard"
                else "use a Secrets Manager vault (64 KB)"
            )
            raise UsageError(
                f"Value of '{key}' is {size} bytes; the {tier} tier of Parameter Store holds at most {limit}",
                hint=hint,
            )

    def _put(self, stage: str, key: str, value: str, secure: bool, overwrite: bool = True) -> WriteResult:
        self._check_value(stage, key, value)
        name = self.remote_name(stage, key)
        params: dict[str, Any] = {
            "Name": name,
            "Value": value,
            "Type": "SecureString" if secure else "String",
            "Overwrite": overwrite,
            "Tier": self.tier,
        }
        kms_key = self.config.get("key")
        if secure and kms_key:
            params["KeyId"] = str(kms_key)
        try:
            response = self.call("put_parameter", name, **params)
        except AwsError as exc:
            if not overwrite and exc.code == "ParameterAlreadyExists":
                raise Expect(None).failure(f"{self.slug}:{stage}", key, "?") from None
            raise
        version = int(response.get("Version", 0))
        return WriteResult(revision=str(version), created=version == 1)

    def set(self, stage: str, key: str, value: str, secure: bool = True) -> WriteResult:
        return self._put(stage, key, value, secure)

    def set_if(self, stage: str, key: str, value: str, expect: Expect, secure: bool = True) -> WriteResult:
        """Create = `PutParameter` without `Overwrite` (AWS refuses an existing name). Update =
        a `GetParameter` check of the version, then the put; Parameter Store numbers versions
        one by one, so a put that does not return the checked version + 1 shows a write that
        landed in between: reported as a conflict (both values are in the history)."""
        if expect.absent:
            return self._put(stage, key, value, secure, overwrite=False)
        self._check_value(stage, key, value)
        self.check_expected(stage, key, expect)
        result = self._put(stage, key, value, secure)
        planned = expect.revision or ""
        if planned.isdigit() and int(result.revision) != int(planned) + 1:
            raise PreconditionFailed(
                f"Secret '{key}' in {self.slug}:{stage} was also written by someone else while keep wrote it "
                f"(keep's value is version {result.revision}; the other write is in its history)",
                hint="check the value, and roll back if needed",
            )
        return WriteResult(revision=result.revision, created=False)

    def delete(self, stage: str, key: str, purge: bool = False) -> None:
        name = self._existing_name(stage, key)
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


DRIVER = Driver(
    name="ssm",
    label="AWS SSM Parameter Store",
    vault_class=SsmVault,
    options=(
        *aws_options("alias/aws/ssm"),
        Option("tier", "Parameter tier", kind="choice", choices=tuple(TIER_LIMITS), default="Standard",
               prompt=f"Tier ({', '.join(TIER_LIMITS)})"),
    ),
    capabilities=Capabilities(
        plain_values=True, history=True, native_versions=True, conditional_writes=True, references=True,
        incremental=True,
    ),
    write_interval=0.05,
    remote=True,
    probe_hints={
        "list": "KeepSsmList: ssm:DescribeParameters on *, and KeepSsmRead/KeepSsmReadWrite: "
        "ssm:GetParameters on parameter/NS/STAGE/* (or, without DescribeParameters, ssm:GetParametersByPath "
        "on the stage path ARN parameter/NS/STAGE, without /*)",
        "read": "KeepSsmRead/KeepSsmReadWrite: ssm:GetParameter on parameter/NS/STAGE/*, and KeepSsmKms: kms:Decrypt",
        "history": "KeepSsmRead/KeepSsmReadWrite: ssm:GetParameterHistory on parameter/NS/STAGE/*",
        "write": "KeepSsmReadWrite: ssm:PutParameter on parameter/NS/STAGE/*, and KeepSsmKms: "
        "kms:Encrypt for SecureString",
        "delete": "KeepSsmReadWrite: ssm:DeleteParameter on parameter/NS/STAGE/*",
    },
)
