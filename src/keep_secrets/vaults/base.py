"""The store interface every driver implements, and the lazy driver registry.

A driver knows nothing of the CLI, of rendering or of other drivers. It raises the error
types of :mod:`keep_secrets.model` (NotFound, AccessDenied, Conflict, RemoteError...) so
callers map failures to exit codes without knowing the store.
"""

from __future__ import annotations

import builtins
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from ..model import Expect, Secret, UsageError, Version, WriteResult

if TYPE_CHECKING:
    from ..project import Project, VaultConfig

# driver name -> "module:Class"; modules are imported only when a vault of that driver is used
# (boto3 must never load for a local-only command).
DRIVER_CLASSES: dict[str, str] = {
    "local": "keep_secrets.vaults.local:LocalVault",
    "ssm": "keep_secrets.vaults.ssm:SsmVault",
    "secretsmanager": "keep_secrets.vaults.secretsmanager:SecretsManagerVault",
}

DRIVER_LABELS: dict[str, str] = {
    "local": "Local encrypted vault",
    "ssm": "AWS SSM Parameter Store",
    "secretsmanager": "AWS Secrets Manager",
}


@dataclass(frozen=True)
class Reference:
    """Where a deployment can fetch one secret from, obtained without reading its value
    (`keep refs`). `service` says which store (`secretsmanager`, `ssm`, `openbao`, ...); `name`
    is the name in that store; `arn` the AWS ARN where there is one; `extra` holds what a
    store needs besides (e.g. an OpenBao mount and field for an ExternalSecret)."""

    key: str
    vault: str
    stage: str
    service: str
    name: str
    arn: str | None = None
    secure: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)


class Vault(ABC):
    """One configured vault. Methods take the stage explicitly; one instance serves all stages."""

    driver: ClassVar[str]
    #: whether `delete` is recoverable (`restore` works) without `purge`
    supports_restore: ClassVar[bool] = False
    #: whether values can be stored unencrypted (`--plain`)
    supports_plain: ClassVar[bool] = False
    #: whether the driver enforces `set_if` itself (atomically, or by a version check right
    #: before the write); the default `set_if` is a read, a comparison, then `set`
    conditional_writes: ClassVar[bool] = False

    def __init__(self, config: VaultConfig, namespace: str, project_root: str | None = None) -> None:
        self.config = config
        self.namespace = namespace
        self.project_root = project_root

    @property
    def slug(self) -> str:
        return self.config.slug

    @abstractmethod
    def remote_name(self, stage: str, key: str) -> str:
        """The full name of the secret in the store (shown in messages)."""

    @abstractmethod
    def list(self, stage: str) -> builtins.list[Secret]:
        """All current secrets of a stage, sorted by key."""

    @abstractmethod
    def get(self, stage: str, key: str, version: str | None = None) -> Secret:
        """One secret (its current value, or `version`). Raises NotFound."""

    @abstractmethod
    def set(self, stage: str, key: str, value: str, secure: bool = True) -> WriteResult:
        """Create or update a secret."""

    def set_if(self, stage: str, key: str, value: str, expect: Expect, secure: bool = True) -> WriteResult:
        """Write only if the key's state is what a plan saw (:class:`~keep_secrets.model.Expect`):
        absent for a create, at `expect.revision` for an update. Raises PreconditionFailed
        (exit 5) otherwise, and never overwrites. Drivers override this with the store's own
        conditional write; this default checks with a read first."""
        from ..model import NotFound

        try:
            current: str | None = self.get(stage, key).revision
        except NotFound:
            current = None
        if not expect.holds(current):
            raise expect.failure(f"{self.slug}:{stage}", key, current)
        return self.set(stage, key, value, secure)

    @abstractmethod
    def delete(self, stage: str, key: str, purge: bool = False) -> None:
        """Delete (recoverably where the store allows, unless `purge`). Raises NotFound."""

    def restore(self, stage: str, key: str) -> None:
        raise UsageError(f"The {self.driver} driver cannot restore deleted secrets")

    @abstractmethod
    def history(self, stage: str, key: str, limit: int | None = None) -> builtins.list[Version]:
        """Versions, newest first."""

    @abstractmethod
    def rollback(self, stage: str, key: str, version: str) -> WriteResult:
        """Make an earlier version current again."""

    def references(self, stage: str) -> builtins.list[Reference]:
        """References to every secret of `stage`, from listing calls only - never a value read
        (so a deploy role without read permission can generate them). Drivers whose store a
        deployment can address (ARNs, KV paths) override this."""
        raise UsageError(
            f"Vault '{self.slug}' ({self.driver} driver) keeps its values in this project, so there are no "
            "remote references for a deployment to use",
            hint="use an ssm or secretsmanager vault, or `keep export` for a file",
        )

    def exists(self, stage: str, key: str) -> bool:
        from ..model import NotFound

        try:
            self.get(stage, key)
        except NotFound:
            return False
        return True

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections or files."""


class VaultPool:
    """The vaults one command (or one web request) opened, by slug: each opened once, all
    closed together. Closing goes on past a failing vault; the failures are returned."""

    def __init__(self, project: Callable[[], Project]) -> None:
        self._project = project
        self._open: dict[str, Vault] = {}

    def get(self, slug: str) -> Vault:
        instance = self._open.get(slug)
        if instance is None:
            instance = open_vault(self._project(), slug)
            self._open[slug] = instance
        return instance

    def clear(self) -> None:
        """Forget the opened vaults without closing them (the project changed)."""
        self._open.clear()

    def close(self) -> list[tuple[str, Exception]]:
        failures: list[tuple[str, Exception]] = []
        for slug, instance in self._open.items():
            try:
                instance.close()
            except Exception as exc:
                failures.append((slug, exc))
        self._open.clear()
        return failures


def driver_class(driver: str) -> type[Vault]:
    target = DRIVER_CLASSES.get(driver)
    if target is None:
        raise UsageError(f"Unknown vault driver '{driver}' (known: {', '.join(DRIVER_CLASSES)})")
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    cls: type[Vault] = getattr(module, class_name)
    return cls


def open_vault(project: Project, slug: str) -> Vault:
    """Instantiate the configured vault `slug` (validated: unknown slugs are exit 2)."""
    config = project.check_vault(slug)
    cls = driver_class(config.driver)
    return cls(config, project.namespace, str(project.root))
