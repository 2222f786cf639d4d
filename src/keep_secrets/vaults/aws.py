"""AWS plumbing shared by the `ssm` and `secretsmanager` drivers: sessions, clients, retries,
error mapping, bounded concurrency and stderr notices.

Why it looks the way it does:

* boto3/botocore are imported inside functions only: `keep get` on the local vault must never
  pay for them (SPEC §12).
* Credentials, SSO and regions come from boto3's standard chain; a vault may name a `profile`
  and an `endpoint_url`. `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` are honoured by
  botocore itself when the vault sets no endpoint.
* Retries use botocore's `adaptive` mode (client-side rate limiting on throttling) with a
  bounded total attempt count (`KEEP_AWS_MAX_ATTEMPTS`, default 6), so throttling never
  reaches the user unless retries are exhausted, and then the error names the call and the
  number of attempts. botocore's own retry handler is replaced by :class:`RetryHandler`:
  botocore's handler draws on a *retry quota* (a token bucket per client) that a bulk import
  through one long-lived client drains within a few dozen throttled calls, after which every
  call gets one attempt only. Ours keeps botocore's retry conditions (throttling, 5xx,
  transport errors) and its adaptive rate limiter, but has no quota: every call gets its full
  attempt count, with jittered exponential back-off, bounded by a deadline.
* Time is bounded: `KEEP_AWS_CONNECT_TIMEOUT` (5 s), `KEEP_AWS_READ_TIMEOUT` (10 s) per
  attempt, and `KEEP_AWS_DEADLINE` (30 s) for one call with all its retries: no retry starts
  that would end past the deadline. After `KEEP_AWS_WAIT_NOTICE` (3 s) of waiting for one
  call, a notice on stderr says what keep is waiting for (once per process).
* `KEEP_AWS_BACKOFF_SCALE` (default 1) multiplies every back-off delay. It is for tests and
  emulators (the fault-injection tests run with 0.01 so that they do not sleep through
  minutes of real back-off); the defaults are what production uses.
* Every failure becomes one of the model's error types with one line naming the action and
  the resource (exit codes: access denied / credentials 4, not found 3, usage 2, remote 1).
  moto answers access denied with HTTP 403 and an XML body that the JSON protocol parser
  cannot decode; any 403 is therefore treated as access denied.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ..concurrency import Gate, Watchdog, listing_in_this_thread, max_concurrency, request_going_out
from ..model import AccessDenied, KeepError, RemoteError, UsageError
from ..model import Unreachable as StoreUnreachable
from .base import Vault
from .registry import Option

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: start-up)
if TYPE_CHECKING:
    from typing import Any

    from ..project import VaultConfig


DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_DEADLINE = 30.0
DEFAULT_WAIT_NOTICE = 3.0
#: back-off: a random delay in [0, min(MAX_BACKOFF, base * 2**(attempt-1))]
THROTTLE_BACKOFF_BASE = 0.5
ERROR_BACKOFF_BASE = 0.05
MAX_BACKOFF = 8.0
DEFAULT_BACKOFF_SCALE = 1.0

ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "KMSAccessDeniedException",
        "Forbidden",
    }
)
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "MissingAuthenticationToken",
        "IncompleteSignature",
    }
)
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "PriorRequestNotComplete",
    }
)
_SIGNATURE_CODES = frozenset({"InvalidSignatureException", "SignatureDoesNotMatch", "AuthorizationHeaderMalformed"})
CREDENTIALS_HINT = (
    "run 'aws sso login', or set AWS_PROFILE (or the vault's profile) to a profile with valid credentials"
)


def max_attempts() -> int:
    raw = os.environ.get("KEEP_AWS_MAX_ATTEMPTS", "")
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_MAX_ATTEMPTS
    return max(1, min(value, 20))


def _seconds(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw)
    except ValueError:
        return default
    if value != value:  # NaN
        return default
    return max(low, min(value, high))


def connect_timeout() -> float:
    return _seconds("KEEP_AWS_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT, 0.1, 300)


def read_timeout() -> float:
    return _seconds("KEEP_AWS_READ_TIMEOUT", DEFAULT_READ_TIMEOUT, 0.1, 900)


def deadline() -> float:
    return _seconds("KEEP_AWS_DEADLINE", DEFAULT_DEADLINE, 0.1, 3600)


def wait_notice_after() -> float:
    return _seconds("KEEP_AWS_WAIT_NOTICE", DEFAULT_WAIT_NOTICE, 0.0, 3600)


def backoff_scale() -> float:
    """The factor on every back-off delay (`KEEP_AWS_BACKOFF_SCALE`; tests and emulators)."""
    return _seconds("KEEP_AWS_BACKOFF_SCALE", DEFAULT_BACKOFF_SCALE, 0.0, 10.0)


class _CallState(_thread._local):  # threading.local
    """What the retry handler learnt about the current thread's call (botocore runs every
    attempt and every needs-retry event in the calling thread)."""

    attempts = 0
    deadline_hit = False


_call_state = _CallState()


class RetryHandler:
    """botocore's `needs-retry` handler for keep's clients (see the module docstring): the
    standard retry conditions, no retry quota, jittered exponential back-off, and a deadline
    for the call as a whole."""

    def __init__(
        self, attempts: int, deadline: float, read_timeout: float, backoff_scale: float = DEFAULT_BACKOFF_SCALE
    ) -> None:
        from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
        from botocore.retries import standard

        self._adapter = standard.RetryEventAdapter()
        self._conditions = standard.StandardRetryConditions(max_attempts=attempts)
        self._throttling = standard.ThrottlingErrorDetector(self._adapter)
        self._timeouts: tuple[type[BaseException], ...] = (ReadTimeoutError, ConnectTimeoutError)
        self.deadline = deadline
        self.read_timeout = read_timeout
        self.backoff_scale = backoff_scale
        import random  # here, where botocore loads anyway (SPEC §12: start-up of other vaults' commands)

        self.random = random.random

    @staticmethod
    def mark_start(context: dict[str, Any] | None = None, **_: Any) -> None:
        """`before-call`: remember when the call (its first attempt) started."""
        if context is not None:
            context["keep_started"] = time.monotonic()
        _call_state.attempts = 0
        _call_state.deadline_hit = False

    def delay(self, attempt: int, throttled: bool) -> float:
        base = THROTTLE_BACKOFF_BASE if throttled else ERROR_BACKOFF_BASE
        return float(self.random() * min(MAX_BACKOFF, base * 2 ** (attempt - 1)) * self.backoff_scale)

    def needs_retry(self, **kwargs: Any) -> float | None:
        context = self._adapter.create_retry_context(**kwargs)
        _call_state.attempts = context.attempt_number
        wait: float | None = None
        if self._conditions.is_retryable(context):
            wait = self.delay(context.attempt_number, self._throttling.is_throttling_error_from_context(context))
            started = context.request_context.get("keep_started")
            if isinstance(started, float):
                # after a timeout the next attempt may time out too: it must fit in full
                room = self.read_timeout if isinstance(context.caught_exception, self._timeouts) else 0.0
                if time.monotonic() - started + wait + room > self.deadline:
                    wait = None
                    _call_state.deadline_hit = True
                    context.add_retry_metadata(KeepDeadlineReached=True)
        self._adapter.adapt_retry_response_from_context(context)
        return wait


def install_retries(client: Any, attempts: int) -> None:
    """Replace botocore's standard retry handler of `client` with :class:`RetryHandler` (the
    adaptive rate limiter, registered separately, stays). Falls back to botocore's handler if
    its internals ever change shape."""
    try:
        name = client.meta.service_model.service_id.hyphenize()
        handler = RetryHandler(attempts, deadline(), read_timeout(), backoff_scale())
        events = client.meta.events
        events.unregister(f"needs-retry.{name}", unique_id=f"retry-config-{name}")
        events.register(f"needs-retry.{name}", handler.needs_retry, unique_id=f"retry-config-{name}")
        events.register(f"before-call.{name}", RetryHandler.mark_start, unique_id=f"keep-call-start-{name}")
    except Exception:  # pragma: no cover - botocore internals changed
        return
    client.meta.keep_retry_handler = handler


def _attempts_text(fallback: int) -> str:
    attempts = _call_state.attempts or fallback
    text = f"{attempts} attempt" + ("" if attempts == 1 else "s")
    if _call_state.deadline_hit:
        text += f" (deadline {deadline():g} s, KEEP_AWS_DEADLINE)"
    return text


_gate_lock = _thread.allocate_lock()  # threading.Lock(), without importing threading
_gate: Gate | None = None


def call_gate() -> Gate:
    """The process-wide limit on AWS calls in flight (`KEEP_MAX_CONCURRENCY`). Thread pools
    nest (cells of a diff, then batch pages within a cell), so bounding each pool alone
    would allow limit x limit calls at once; every call passes this gate instead. A listing's
    next page (a call from a thread listing with held value reads) passes before the value
    reads waiting with it: each page needs the previous one, the reads can wait."""
    global _gate
    size = max_concurrency()
    with _gate_lock:
        if _gate is None or _gate.size != size:
            _gate = Gate(size)
        return _gate


def aws_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser, fast for the JSON protocols' epoch seconds: an aware UTC
    datetime in ~5 us where botocore's default (a dateutil `tzlocal()` per value) takes
    ~140 us, which was a third of the client's CPU on a ListSecrets page of 100 (3 timestamps
    per entry). Anything else (ISO strings of the query protocols) goes to botocore's parser."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError, OSError, ValueError):
            return datetime.fromtimestamp(value, UTC)
    from botocore.utils import parse_timestamp

    parsed: datetime = parse_timestamp(value)
    return parsed


def stderr_notice(text: str) -> None:
    """Default notice sink: drivers say things the user must know (a read served by a replica
    region) without knowing about the CLI."""
    try:
        sys.stderr.write(f"keep: notice: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # pragma: no cover - stderr closed
        pass


REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
REGION_RULE = "an AWS region name such as us-east-1 or eu-central-1"
DEFAULT_REGION = "us-east-1"


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def check_region(region: str) -> str:
    if not REGION_RE.fullmatch(region):
        raise ValueError(f"use {REGION_RULE}")
    return region


def _check_kms_key(key: str) -> str:
    if len(key) > 2048 or any(c.isspace() for c in key):
        raise ValueError("use a KMS key id, ARN or alias/NAME")
    return key


def _check_endpoint(url: str) -> str:
    if url and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        raise ValueError("use http(s)://host[:port]")
    return url


def _check_profile(profile: str) -> str:
    if not profile.strip() or any(c.isspace() for c in profile):
        raise ValueError("use an AWS profile name")
    return profile


def aws_options(managed_key: str) -> tuple[Option, ...]:
    """The connection fields both AWS drivers share (`managed_key`: the AWS managed KMS alias)."""
    return (
        Option("region", "AWS region", validate=check_region, default=DEFAULT_REGION, initial=default_region,
               prompt="AWS Region", env=("AWS_REGION", "AWS_DEFAULT_REGION"), reprobe=True),
        Option("key", "KMS key id, ARN or alias (empty = AWS managed key)", validate=_check_kms_key,
               prompt=f"KMS Key ID (optional; empty = AWS managed {managed_key})", reprobe=True),
        Option("scope", "Extra path segment after the namespace", prompt="Scope (optional extra path segment)",
               reprobe=True),
        Option("endpoint_url", "Custom AWS endpoint (LocalStack, moto)", validate=_check_endpoint,
               env=("AWS_ENDPOINT_URL",), reprobe=True),
        Option("profile", "AWS profile for this vault", validate=_check_profile, env=("AWS_PROFILE",),
               reprobe=True),
        *cache_options(),
    )


def cache_options() -> tuple[Option, ...]:
    """The cache fields of a vault whose driver has the `incremental` capability (SPEC §13)."""
    from .durations import DEFAULT_MAX_STALE, check_duration

    return (
        Option("cache", "Encrypted local cache of values, refreshed by listing (and offline fallback)",
               kind="choice", choices=("on", "off"), default="off"),
        Option("cache_max_stale", "Oldest cache served when the store is unreachable (90m, 24h, 7d)",
               validate=check_duration, default=DEFAULT_MAX_STALE),
    )


#: Held while a boto3 session or client is built, process-wide. Building is CPU work (JSON
#: models, endpoint rules), so building two at once in two threads is no faster under the GIL,
#: and the second one built after the first finds the shared data loader's files parsed.
_create_lock = _thread.allocate_lock()
_loader: Any = None


def _share_data_loader(session: Any) -> None:
    """Give `session` the process's botocore data loader (the first session's). A loader
    parses and caches botocore's data files (service models, endpoint rules, partitions,
    retry and default-configuration files): ~100 ms of CPU per session with its own loader,
    paid again by every vault of a `diff` or a template. Credentials, profiles and regions
    stay per session; the data files are the same for every session of the process (the
    loader's search path is fixed by AWS_DATA_PATH when the first session is made). Call with
    :data:`_create_lock` held."""
    global _loader
    botocore_session = session._session
    if _loader is None:
        _loader = botocore_session.get_component("data_loader")
    else:
        botocore_session.register_component("data_loader", _loader)


class AwsVault(Vault):
    """Common base of the AWS drivers: one boto3 session per vault (sharing the process's
    botocore data loader), one client per region."""

    service: str = ""

    def __init__(self, config: VaultConfig, namespace: str, project_root: str | None = None) -> None:
        super().__init__(config, namespace, project_root)
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._lock = _thread.allocate_lock()
        self.notice: Callable[[str], None] = stderr_notice

    # -- clients -------------------------------------------------------------------------
    @property
    def profile(self) -> str | None:
        value = self.config.get("profile")
        return str(value) if value else None

    @property
    def endpoint_url(self) -> str | None:
        value = self.config.get("endpoint_url")
        return str(value) if value else None

    def _boto_session(self) -> Any:
        """This vault's boto3 session (its own credentials chain), created on first use. Call
        with :data:`_create_lock` held: botocore sessions are not safe to build clients in
        from several threads at once."""
        if self._session is None:
            import boto3
            from botocore.exceptions import ProfileNotFound

            try:
                session = boto3.session.Session(profile_name=self.profile)
            except ProfileNotFound as exc:
                raise profile_error(exc, self.profile, self.slug) from None
            _share_data_loader(session)
            # before any client exists: clients take their response parser from this factory
            factory = session._session.get_component("response_parser_factory")
            factory.set_parser_defaults(timestamp_parser=aws_timestamp)
            self._session = session
        return self._session

    def cache_location(self) -> dict[str, str]:
        """The account's store: region, endpoint and profile, from the settings or, as boto3
        takes them, the environment (the same parts, so the same cache file, as before drivers
        declared them)."""
        config, env = self.config, os.environ
        return {
            **self._vault_identity(),
            "region": str(config.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""),
            "endpoint": str(config.get("endpoint_url") or env.get("AWS_ENDPOINT_URL") or ""),
            "profile": str(config.get("profile") or env.get("AWS_PROFILE") or ""),
        }

    @property
    def region(self) -> str:
        configured = self.config.get("region")
        if configured:
            return str(configured)
        with self._lock, _create_lock:
            region = self._boto_session().region_name
        if not region:
            raise UsageError(
                f"No AWS region for vault '{self.slug}'",
                hint="set the vault's region, or AWS_REGION / AWS_DEFAULT_REGION",
            )
        return str(region)

    def client(self, region: str | None = None) -> Any:
        """The (thread-safe, cached) boto3 client of this vault's service in `region`."""
        region = region or self.region
        with self._lock:
            cached = self._clients.get(region)
            if cached is not None:
                return cached
            from botocore.config import Config

            config = Config(
                region_name=region,
                retries={"mode": "adaptive", "total_max_attempts": max_attempts()},
                max_pool_connections=max(10, max_concurrency() * 2),
                connect_timeout=connect_timeout(),
                read_timeout=read_timeout(),
                user_agent_extra="keep-secrets",
            )
            try:
                with _create_lock:
                    created = self._boto_session().client(self.service, endpoint_url=self.endpoint_url, config=config)
            except ValueError as exc:  # e.g. a malformed endpoint_url
                raise UsageError(f"Vault '{self.slug}': cannot create the {self.service} client: {exc}") from None
            install_retries(created, max_attempts())
            # a pipelined listing's held value reads start as its next page's request leaves
            created.meta.events.register("before-send", request_going_out, unique_id="keep-request-going-out")
            self._clients[region] = created
            return created

    # -- calls ---------------------------------------------------------------------------
    def call(self, operation: str, resource: str, *, region: str | None = None, **params: Any) -> Any:
        """Call `operation` (botocore's snake_case method) and map every failure to a model error.
        Drivers catch :class:`AwsError` when they want to branch on the AWS error code."""
        client = self.client(region)
        method = getattr(client, operation)
        waiting = self._wait_notice(operation, resource, client)
        try:
            with call_gate().held(first=listing_in_this_thread()):
                return method(**params)
        except Exception as exc:
            raise _without_values(self.translate(exc, operation, resource, client), params) from None
        finally:
            if waiting is not None:
                watchdog().cancel(waiting)

    def _wait_notice(self, operation: str, resource: str, client: Any) -> int | None:
        """Schedule the notice that says, once per process, what keep is waiting for when a call
        takes long (the watchdog's token, None once the notice was given)."""
        if _waited_notice:
            return None

        def say() -> None:
            global _waited_notice
            with _gate_lock:
                if _waited_notice:
                    return
                _waited_notice = True
            self.notice(
                f"waiting for {_endpoint(client)} (region {_region(client)}): {_action_name(operation)} on "
                f"{resource}; giving up after {max_attempts()} attempts or {deadline():g} s "
                "(KEEP_AWS_MAX_ATTEMPTS, KEEP_AWS_DEADLINE)"
            )

        return watchdog().schedule(wait_notice_after(), say)

    def caller_partition_and_account(self) -> tuple[str, str]:
        """(partition, account id) of the credentials, from STS GetCallerIdentity - a call
        that needs no IAM permission. A vault's `endpoint_url` (an emulator) is used for STS
        too unless it is an AWS host (a VPC endpoint of one service is no STS endpoint)."""
        from botocore.config import Config

        endpoint = self.endpoint_url
        if endpoint and ".amazonaws.com" in endpoint.split("//", 1)[-1].split("/", 1)[0]:
            endpoint = None
        with self._lock, _create_lock:
            client = self._boto_session().client(
                "sts", endpoint_url=endpoint, config=Config(region_name=self.region, user_agent_extra="keep-secrets")
            )
        try:
            with call_gate().held():
                identity = client.get_caller_identity()
        except Exception as exc:
            raise translate_error(exc, "GetCallerIdentity", "the caller's account", client) from None
        finally:
            with contextlib.suppress(Exception):
                client.close()
        arn = str(identity.get("Arn", ""))
        partition = arn.split(":")[1] if arn.startswith("arn:") and arn.count(":") >= 2 else "aws"
        return partition, str(identity["Account"])

    def translate(self, exc: Exception, operation: str, resource: str, client: Any) -> KeepError:
        return translate_error(exc, _action_name(operation), resource, client)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                with contextlib.suppress(Exception):
                    client.close()
            self._clients.clear()


_waited_notice = False
_watchdog: Watchdog | None = None


def watchdog() -> Watchdog:
    """The process's watchdog of slow calls, made on first use (a driver module imported only
    for its declaration starts nothing)."""
    global _watchdog
    with _gate_lock:
        if _watchdog is None:
            _watchdog = Watchdog()
        return _watchdog


class AwsError(KeepError):
    """A mapped AWS error that keeps the AWS error code, for drivers that branch on it.
    Concrete classes also derive from the model error that fixes the exit code."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        aws_message: str = "",
        status: int | None = None,
        hint: str | None = None,
        resource: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.resource = resource
        self.code = code
        self.aws_message = aws_message
        self.status = status


class AwsAccessDenied(AwsError, AccessDenied):
    pass


def profile_error(exc: Exception, configured: str | None, slug: str | None) -> UsageError:
    """The profile that is actually in effect and where it came from: the vault's `profile`,
    else AWS_PROFILE (or AWS_DEFAULT_PROFILE) - never 'None'."""
    kwargs = getattr(exc, "kwargs", None) or {}
    vault = f"vault '{slug}'" if slug else "the vault"
    if configured:
        profile, source = configured, f"the profile of {vault}"
    elif os.environ.get("AWS_PROFILE"):
        profile, source = os.environ["AWS_PROFILE"], f"AWS_PROFILE, for {vault}"
    elif os.environ.get("AWS_DEFAULT_PROFILE"):
        profile, source = os.environ["AWS_DEFAULT_PROFILE"], f"AWS_DEFAULT_PROFILE, for {vault}"
    else:
        profile, source = str(kwargs.get("profile") or "default"), f"the AWS configuration, for {vault}"
    return UsageError(
        f"AWS profile '{profile}' ({source}) is not configured",
        hint="add it to ~/.aws/config, or fix AWS_PROFILE or the vault's profile",
    )


class AwsRemoteError(AwsError, RemoteError):
    pass


class Unreachable(AwsError, StoreUnreachable):
    """The endpoint/region could not be reached (connection errors or 5xx after retries).
    Only this failure lets a read fall back to a replica region."""


_KMS_WORD = re.compile(r"(?<![a-z0-9])kms(?![a-z0-9_])|customer master key", re.IGNORECASE)
_ANY_SECRET_ARN = re.compile(r"arn:aws[\w-]*:(?:secretsmanager|ssm):\S+")


def mentions_kms(aws_message: str, resource: str = "") -> bool:
    """Whether AWS blames KMS (`kms:Decrypt`, "Access to KMS is not allowed", a key ARN).
    The secret's own name and ARN are removed first: a key named `KMS_TOKEN` is no KMS issue."""
    text = aws_message
    if resource:
        text = re.sub(re.escape(resource), " ", text, flags=re.IGNORECASE)
    text = _ANY_SECRET_ARN.sub(" ", text)
    return _KMS_WORD.search(text) is not None


def _action_name(operation: str) -> str:
    """`put_secret_value` -> `PutSecretValue` (the name IAM policies and CloudTrail use)."""
    return "".join(part.capitalize() for part in operation.split("_"))


def _endpoint(client: Any) -> str:
    try:
        return str(client.meta.endpoint_url)
    except AttributeError:  # pragma: no cover
        return "?"


def _region(client: Any) -> str:
    try:
        return str(client.meta.region_name)
    except AttributeError:  # pragma: no cover
        return "?"


#: Request parameters that carry a secret value: an AWS (or emulator) error message may quote
#: them, e.g. a validation error "Value '...' at 'value' failed to satisfy constraint".
_VALUE_PARAMS = ("Value", "SecretString")


def _without_values(error: KeepError, params: dict[str, Any]) -> KeepError:
    """`error` with every secret value sent in `params` masked out of its texts."""
    values = [v for name in _VALUE_PARAMS if isinstance(v := params.get(name), str) and len(v) >= 4]
    if not values:
        return error

    def scrub(text: str) -> str:
        for value in values:
            text = text.replace(value, "********")
        return text

    error.message = scrub(error.message)
    error.args = (error.message,)
    if error.hint:
        error.hint = scrub(error.hint)
    if isinstance(error, AwsError):
        error.aws_message = scrub(error.aws_message)
    return error


def translate_error(exc: Exception, action: str, resource: str, client: Any) -> KeepError:
    """Map a boto3/botocore exception to one model error with a one-line message.

    A :class:`botocore.exceptions.ClientError` becomes an :class:`AwsError` subclass (which
    keeps the AWS code); transport and credential failures become the plain model errors."""
    from botocore import exceptions as bexc

    if isinstance(exc, KeepError):
        return exc
    endpoint, region = _endpoint(client), _region(client)
    if isinstance(exc, bexc.ClientError):
        return _client_error(exc, action, resource, endpoint, region)
    if isinstance(
        exc,
        (
            bexc.NoCredentialsError,
            bexc.PartialCredentialsError,
            bexc.CredentialRetrievalError,
            bexc.TokenRetrievalError,
            bexc.SSOTokenLoadError,
            bexc.UnauthorizedSSOTokenError,
            bexc.SSOError,
        ),
    ):
        return AccessDenied(f"No valid AWS credentials for {action} ({exc})", hint=CREDENTIALS_HINT)
    if isinstance(exc, bexc.ProfileNotFound):
        return profile_error(exc, None, None)
    if isinstance(exc, bexc.NoRegionError):
        return UsageError("No AWS region configured", hint="set the vault's region, or AWS_REGION")
    if isinstance(
        exc,
        (
            bexc.EndpointConnectionError,
            bexc.ConnectTimeoutError,
            bexc.ReadTimeoutError,
            bexc.ConnectionClosedError,
            bexc.ProxyConnectionError,
            bexc.HTTPClientError,
        ),
    ):
        return Unreachable(
            f"Cannot reach {endpoint} (region {region}) for {action} on {resource}: "
            f"gave up after {_attempts_text(max_attempts())} ({type(exc).__name__})",
            hint="check the network, the region and the vault's endpoint_url",
        )
    if isinstance(exc, bexc.ParamValidationError):
        return UsageError(f"Invalid request for {action} on {resource}: {exc}")
    if isinstance(exc, bexc.BotoCoreError):
        return RemoteError(f"{action} on {resource} failed: {exc}")
    return RemoteError(f"{action} on {resource} failed: {type(exc).__name__}: {exc}")


def _client_error(exc: Any, action: str, resource: str, endpoint: str, region: str) -> AwsError:
    response = exc.response or {}
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "")
    aws_message = str(error.get("Message") or "").strip()
    status = meta.get("HTTPStatusCode")
    attempts_text = _attempts_text(int(meta.get("RetryAttempts") or 0) + 1)
    detail = f"{code}: {aws_message}" if aws_message else code
    info: dict[str, Any] = {"code": code, "aws_message": aws_message, "status": status, "resource": resource}
    if "region" in aws_message.lower() and code in _SIGNATURE_CODES:
        return AwsAccessDenied(
            f"Region mismatch for {action} on {resource} at {endpoint} (region {region}): {detail}",
            hint="check the vault's region and endpoint URL (and AWS_ENDPOINT_URL*)",
            **info,
        )
    if code in CREDENTIAL_CODES:
        return AwsAccessDenied(f"AWS rejected the credentials for {action} ({detail})", hint=CREDENTIALS_HINT, **info)
    if code in ACCESS_DENIED_CODES or status == 403:
        message = f"Access denied: {action} on {resource}"
        if aws_message:
            message += f" ({aws_message})"
        hint = None
        if code.startswith("KMS") or mentions_kms(aws_message, resource):
            hint = "the KMS key policy or a grant must allow this principal to use the vault's key"
        return AwsAccessDenied(message, hint=hint, **info)
    if code in THROTTLING_CODES:
        return AwsRemoteError(
            f"{action} on {resource} was throttled by AWS; gave up after {attempts_text}",
            hint="retry later, or lower KEEP_MAX_CONCURRENCY",
            **info,
        )
    if isinstance(status, int) and status >= 500:
        return Unreachable(
            f"{action} on {resource} failed at {endpoint} (region {region}) after {attempts_text}: "
            f"HTTP {status} {detail}",
            **info,
        )
    hint = None
    if "region" in aws_message.lower():
        hint = f"the vault's region is {region}: its KMS key and ARNs must be in that region too"
    return AwsRemoteError(f"{action} on {resource} failed: {detail}", hint=hint, **info)
