"""The store interface every driver implements, its optional typed capabilities, and
opening a configured vault through the driver registry (vaults/registry.py).

A driver knows nothing of the CLI, of rendering or of other drivers. It raises the error
types of :mod:`keep_secrets.model` (NotFound, AccessDenied, Conflict, RemoteError...) with
structured fields and no command syntax, so each front end maps and words them itself.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import datetime

from ..model import Conflict, Expect, Secret, UsageError, Version, WriteResult
from ..record import field, record
from . import registry

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: `keep get` start-up)
if TYPE_CHECKING:
    from typing import Protocol

    from ..project import Project, VaultConfig
    from .cache import Incremental, Mode

    class Replicating(Protocol):
        """A store whose secrets have replicas in other regions (capability `replication`)."""

        def replication_plan(self, stage: str) -> list[ReplicaChange]: ...

        def replicate(self, stage: str, dry_run: bool = False) -> list[ReplicaChange]: ...

    class LambdaRotating(Protocol):
        """A store that rotates a secret through an AWS Lambda (capability `lambda_rotation`)."""

        def rotate_with_lambda(
            self, stage: str, key: str, lambda_arn: str, every_days: int | None = None
        ) -> WriteResult: ...

    class ListsDeleted(Protocol):
        """A store that can list a stage's deleted, still restorable secrets (capability
        `list_deleted`; purged or destroyed ones are not listed)."""

        def deleted(self, stage: str) -> builtins.list[DeletedSecret]: ...


@record()
class ReplicaChange:
    """What `replicate` did (or would do) to one secret's replica regions."""

    key: str
    name: str
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.add or self.remove)


@record(frozen=True)
class DeletedSecret:
    """A deleted secret that `restore` can still bring back: its key, its name in the store
    and when it was deleted (None where the store does not say)."""

    key: str
    vault: str
    stage: str
    name: str
    deleted: datetime | None = None


@record(frozen=True)
class Reference:
    """Where a deployment can fetch one secret from, obtained without reading its value
    (`keep refs`). `service` says which store (the driver's name); `name` is the name in that
    store; `arn` the cloud resource name where there is one; `extra` holds what a store needs
    besides (e.g. a mount and a field for an ExternalSecret). `addresses` is the driver's say
    on which `keep refs` formats can point at it, and how: format -> the text that format
    uses (`ecs`: the `valueFrom`, `cloudformation`: the dynamic reference, `external-secrets`:
    the `remoteRef` key). A format it does not name is refused for it; `json` lists any."""

    key: str
    vault: str
    stage: str
    service: str
    name: str
    arn: str | None = None
    secure: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)
    addresses: Mapping[str, str] = field(default_factory=dict)


def _stderr_notice(text: str) -> None:
    import sys

    sys.stderr.write(f"keep: notice: {text}\n")


class Vault(ABC):
    """One configured vault. Methods take the stage explicitly; one instance serves all stages."""

    #: the driver's registry name: a class attribute of each driver; a wrapper (the cache)
    #: sets its inner vault's, so messages and registry lookups name the real store
    driver: str

    def __init__(self, config: VaultConfig, namespace: str, project_root: str | None = None) -> None:
        self.config = config
        self.namespace = namespace
        self.project_root = project_root
        #: where the driver says what the user must know without failing (front ends replace it)
        self.notice: Callable[[str], None] = _stderr_notice

    @property
    def slug(self) -> str:
        return self.config.slug

    @property
    def declaration(self) -> registry.Driver:
        return registry.get(self.driver)

    @property
    def capabilities(self) -> registry.Capabilities:
        return self.declaration.capabilities

    # Optional capabilities, typed: a driver that has one overrides its accessor to return
    # itself (mypy checks it satisfies the Protocol); callers never probe attributes.
    def replication(self) -> Replicating | None:
        return None

    def lambda_rotation(self) -> LambdaRotating | None:
        return None

    def deleted_listing(self) -> ListsDeleted | None:
        return None

    def incremental(self) -> Incremental | None:
        """Listing with versions + reading only chosen keys (capability `incremental`): what
        the cache (vaults/cache.py) refreshes with."""
        return None

    def cache_location(self) -> dict[str, str]:
        """What tells this vault's store apart from any other's (the cache's file is named by
        its digest, so two vaults may share cached values only if this is equal): the driver,
        namespace, slug, scope and every option of the vault's settings except the cache's
        own. A driver whose store also comes from the environment adds that."""
        import json

        parts = self._vault_identity()
        for name, value in self.config.options.items():
            if not name.startswith("cache"):
                parts[f"option:{name}"] = json.dumps(value, sort_keys=True)
        return parts

    def _vault_identity(self) -> dict[str, str]:
        """The part of :meth:`cache_location` every driver shares."""
        return {"driver": self.driver, "namespace": self.namespace, "slug": self.slug, "scope": self.config.scope}

    @abstractmethod
    def remote_name(self, stage: str, key: str) -> str:
        """The full name of the secret in the store (shown in messages)."""

    @abstractmethod
    def list(self, stage: str) -> builtins.list[Secret]:
        """All current secrets of a stage, sorted by key."""

    def unmanaged(self, stage: str, values: bool = False) -> builtins.list[Secret]:
        """Secrets in the stage's place in the store that keep did not make (e.g. created in a
        console without keep's tags): `list` leaves them out, `show`/`diff` mention them.
        Without `values` only keys and names are filled in (no extra read where the listing
        already saw them). Stores whose every entry is keep's return []."""
        return []

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
        self.check_expected(stage, key, expect)
        return self.set(stage, key, value, secure)

    def check_expected(self, stage: str, key: str, expect: Expect) -> None:
        """Read the key's current revision and raise PreconditionFailed unless `expect` holds:
        the read-then-check step of a conditional write on a store without one of its own."""
        from ..model import NotFound

        try:
            current: str | None = self.get(stage, key).revision
        except NotFound:
            current = None
        if not expect.holds(current):
            raise expect.failure(f"{self.slug}:{stage}", key, current)

    @abstractmethod
    def delete(self, stage: str, key: str, purge: bool = False) -> None:
        """Delete (recoverably where the store allows, unless `purge`). Raises NotFound."""

    def purge_version(self, stage: str, key: str, version: str) -> None:
        """Remove one old version for good (`delete --purge --version V`)."""
        raise UsageError(f"The {self.driver} driver cannot remove a single version")

    def _purging_current(self, stage: str, key: str, number: int, named: str) -> Conflict:
        """The refusal of `purge_version` on the current version (`named` is the secret as the
        driver's messages name it): delete or purge the secret instead."""
        return Conflict(
            f"Version {number} is the current version of {named}; "
            "only older versions can be purged one by one",
            key=key,
            remote_name=self.remote_name(stage, key),
            version=str(number),
        )

    def restore(self, stage: str, key: str) -> None:
        raise UsageError(f"The {self.driver} driver cannot restore deleted secrets")

    def delete_is_restorable(self, purge: bool = False) -> bool:
        """Whether `delete(stage, key, purge)` can be undone with `restore`: the driver's
        capability, unless the vault's configuration deletes at once."""
        return self.capabilities.restore and not purge

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
            hint=f"use a vault of a driver that gives them ({', '.join(registry.referencing())}), "
            "or export the values to a file",
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

    def __init__(self, project: Callable[[], Project], cache: Callable[[], Mode] | None = None) -> None:
        self._project = project
        self._cache = cache
        self._open: dict[str, Vault] = {}

    def get(self, slug: str) -> Vault:
        instance = self._open.get(slug)
        if instance is None:
            instance = open_vault(self._project(), slug, self._cache() if self._cache else "auto")
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
    return registry.get(driver).vault_class


def open_vault(project: Project, slug: str, cache: Mode = "auto") -> Vault:
    """Instantiate the configured vault `slug` (validated: unknown slugs are exit 2), behind
    the cache where it is on (`cache`: "auto" = as configured, "off" = --no-cache,
    "offline" = --offline, no network call)."""
    config = project.check_vault(slug)
    cls = driver_class(config.driver)
    vault = cls(config, project.namespace, project.root_text)
    if cache == "off" or not registry.get(config.driver).remote:
        return vault
    from .cache import wrap

    return wrap(vault, cache)
