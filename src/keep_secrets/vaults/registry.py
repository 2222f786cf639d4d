"""The driver registry: every driver declares itself once, and everything else reads that.

A driver module ends with one declaration::

    DRIVER = Driver(
        name="mystore",                      # the `driver` field of .keep/vaults/SLUG.json
        label="My store",                    # shown in vault:add, the web form, the README table
        vault_class=MyStoreVault,            # a Vault subclass (vaults/base.py)
        options=(                            # its fields in .keep/vaults/SLUG.json
            Option("address", "Server URL", validate=check_url, prompt="Address", reprobe=True),
            Option("token", "Access token", secret=True, env=("MYSTORE_TOKEN",)),
        ),
        capabilities=Capabilities(restore=True, history=True),
        write_interval=0.05,                 # seconds between writes of a bulk copy/import
        probe_hints={"write": "the token needs the 'create' capability"},
        access_policy=my_policy,             # `keep iam`: PolicyRequest -> AccessPolicy (optional)
    )

From that one place keep derives: config validation of `.keep/vaults/*.json` (project.py),
the `vault:add`/`vault:edit` flags and prompts (cli/project.py), the option checks of
services/vault_config.py, the web settings form (served as a schema by `/api/context`),
`verify`'s explanations, `keep iam` for stores with their own policy language, copy/import
write pacing, the conformance-test skips and the README's driver table.

Built-in drivers are listed in :data:`BUILTIN` (name -> module). Other packages register
through the entry-point group ``keep_secrets.vaults``; the entry point names the module
(or directly its ``Driver`` object)::

    [project.entry-points."keep_secrets.vaults"]
    mystore = "mystore_keep.driver"

Modules are imported only when their driver is needed, so `keep get` on a local vault never
imports the AWS drivers (nor boto3), and entry points are scanned only for a name that is not
built in or when every driver is listed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType

from ..model import UsageError
from ..record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: `keep get` start-up)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Literal

    from ..project import VaultConfig
    from .base import Vault

    OptionKind = Literal["text", "int", "list", "choice"]

ENTRY_POINT_GROUP = "keep_secrets.vaults"

#: built-in drivers: name -> module holding its `DRIVER` declaration
BUILTIN: dict[str, str] = {
    "local": "keep_secrets.vaults.local",
    "ssm": "keep_secrets.vaults.ssm",
    "secretsmanager": "keep_secrets.vaults.secretsmanager",
    "openbao": "keep_secrets.vaults.openbao",
}


@record(frozen=True)
class Option:
    """One field of a vault's configuration file."""

    name: str
    #: one line for `--help`, the web form and the README
    help: str
    kind: OptionKind = "text"
    #: for kind "choice": the accepted values (matched case-insensitively, stored as written here)
    choices: tuple[str, ...] = ()
    #: what the driver uses when the field is absent (shown as the prompt's default)
    default: str | int | None = None
    #: the value written when a vault is added without one (e.g. the region from AWS_REGION)
    initial: Callable[[], str] | None = None
    #: checks one value (one item of a list) and returns it normalised; raises ValueError(reason)
    validate: Callable[[Any], Any] | None = None
    #: asked on a terminal by vault:add / vault:edit (None: a flag only)
    prompt: str | None = None
    #: a credential: never stored in `.keep/` (refused there), read from `env` by the driver
    secret: bool = False
    #: environment variables the driver reads this from when the field is absent
    env: tuple[str, ...] = ()
    #: changing it changes where or how the store is reached: vault:edit probes again
    reprobe: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> Any:
        """`value` type-checked and normalised. Raises TypeError(reason) for a wrong JSON type
        and ValueError(reason) for a bad value; the reasons name no front end."""
        if self.kind == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError("must be a whole number")
            return self._validated(value)
        if self.kind == "list":
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise TypeError("must be a list of strings")
            return [self._validated(item) for item in value]
        if not isinstance(value, str):
            raise TypeError("must be a string")
        if self.kind == "choice":
            for choice in self.choices:
                if value.lower() == choice.lower():
                    return choice
            raise ValueError(f"use one of {', '.join(self.choices)}")
        return self._validated(value)

    def _validated(self, value: Any) -> Any:
        return value if self.validate is None else self.validate(value)

    def problem(self, value: Any, label: str | None = None) -> str | None:
        """None when `value` is valid, else one line naming the field as `label` (the option
        name by default; the CLI passes its flag)."""
        label = label or self.name
        try:
            self.check(value)
        except TypeError as exc:
            return f"{label} {exc}"
        except ValueError as exc:
            items = value if self.kind == "list" and isinstance(value, list) else [value]
            bad = next((item for item in items if not _passes(self, item)), value)
            which = f"{label} entry" if self.kind == "list" else label
            return f"invalid {which} {bad!r}: {exc}"
        return None

    def schema(self) -> dict[str, Any]:
        """The JSON shape the web settings form is drawn from."""
        return {
            "name": self.name,
            "help": self.help,
            "kind": self.kind,
            "choices": list(self.choices),
            "default": self.default,
            "prompt": self.prompt,
            "secret": self.secret,
            "env": list(self.env),
        }


def _passes(option: Option, item: Any) -> bool:
    try:
        option._validated(item)
    except ValueError:
        return False
    return True


@record(frozen=True)
class Capabilities:
    """What a driver can do beyond the Vault interface's required methods. Front ends offer a
    feature only where its flag is set; the typed accessors on Vault (`replication()`,
    `lambda_rotation()`, `deleted_listing()`) return the implementation."""

    #: `delete` is recoverable (`restore`) unless purged
    restore: bool = False
    #: the deleted, still restorable keys of a stage can be listed (`restore --list`, the web
    #: Restore dialog); implies `restore`
    list_deleted: bool = False
    #: values can be stored unencrypted (`set --plain` stores them so)
    plain_values: bool = False
    #: `set --plain` is accepted and the mark kept (so a copy to a store with `plain_values`
    #: stores it unencrypted), but the value is encrypted here all the same
    plain_marker: bool = False
    #: `history` and `rollback` work
    history: bool = True
    #: the store keeps fields of a JSON secret itself (template `{vault:KEY.field}` works on any driver)
    field_access: bool = False
    #: secrets are replicated to other regions (`replicate`)
    replication: bool = False
    #: the store runs rotation through an AWS Lambda (`rotate --lambda`)
    lambda_rotation: bool = False
    #: versions are the store's own ids/labels rather than keep's counters
    native_versions: bool = False
    #: writes can be made conditional on the revision read (no lost update)
    conditional_writes: bool = False
    #: `references(stage)` gives deployment references from listing calls only (`keep refs`)
    references: bool = False
    #: lists with each key's current version and reads only chosen keys (`Vault.incremental()`):
    #: the encrypted cache and its offline fallback work for it (`cache` option)
    incremental: bool = False

    @property
    def accepts_plain(self) -> bool:
        return self.plain_values or self.plain_marker

    def to_dict(self) -> dict[str, bool]:
        return dict(self.__dict__)


@record(frozen=True)
class PolicyRequest:
    """What `keep iam` asks a driver's policy generator for: its vaults, the namespace, the
    stages (`limited`: chosen with --stage rather than all configured) and the scenario."""

    vaults: Sequence[VaultConfig]
    namespace: str
    stages: Sequence[str]
    limited: bool = False
    read_only: bool = False


@record(frozen=True)
class AccessPolicy:
    """A least-privilege policy in the store's own language: `document` goes to stdout,
    `notes` (what it covers, how to apply it) to stderr."""

    document: str
    notes: tuple[str, ...] = ()


@record(frozen=True)
class Driver:
    """One driver's declaration (see the module docstring)."""

    name: str
    label: str
    vault_class: type[Vault]
    options: tuple[Option, ...] = ()
    capabilities: Capabilities = field(default_factory=Capabilities)
    #: seconds between two writes of a bulk copy/import (stores that throttle writes)
    write_interval: float = 0.0
    #: secrets live outside the project (renaming the namespace orphans them)
    remote: bool = False
    #: where the vault keeps its data on this machine (project root, config) -> file; the file
    #: follows a slug rename, is kept (and named) when the vault's configuration is deleted
    data_file: Callable[[Path, VaultConfig], Path] | None = None
    #: what a slug rename means for the secrets already stored ({old} and {new} are filled in)
    rename_note: str | None = None
    #: its notices are informational only (e.g. "no data yet"): `-q` silences them
    quiet_notices: bool = False
    #: probe step (list/write/read/history/delete) -> what grants it, for `verify`'s explanations
    probe_hints: Mapping[str, str] = field(default_factory=dict)
    #: `keep iam` for a store with its own policy language (the AWS drivers share the IAM
    #: document of services/iam.py instead); None: the store needs no policy from keep
    access_policy: Callable[[PolicyRequest], AccessPolicy] | None = None

    def option(self, name: str) -> Option | None:
        return next((option for option in self.options if option.name == name), None)

    def schema(self) -> dict[str, Any]:
        return {
            "driver": self.name,
            "label": self.label,
            "options": [option.schema() for option in self.options if not option.secret],
            "capabilities": self.capabilities.to_dict(),
        }


_loaded: dict[str, Driver] = {}
_plugins: dict[str, Any] | None = None


def _entry_points() -> dict[str, Any]:
    """Third-party drivers by name (scanned once per process, only when needed)."""
    global _plugins
    if _plugins is None:
        from importlib.metadata import entry_points

        _plugins = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN}
    return _plugins


def _declaration(source: object, name: str) -> Driver:
    declared = source.DRIVER if isinstance(source, ModuleType) else source
    if not isinstance(declared, Driver):
        raise UsageError(f"Vault driver '{name}' does not declare a keep_secrets.vaults.registry.Driver")
    if declared.name != name:
        raise UsageError(f"Vault driver '{name}' declares itself as '{declared.name}'")
    return declared


def names() -> list[str]:
    """Every known driver name: the built-in ones first, then plugins."""
    others = set(_entry_points()) | {name for name in _loaded if name not in BUILTIN}
    return [*BUILTIN, *sorted(others)]


def is_known(name: str) -> bool:
    return name in BUILTIN or name in _loaded or name in _entry_points()


def get(name: str) -> Driver:
    """The declaration of driver `name` (its module is imported now). Unknown: exit 2."""
    found = _loaded.get(name)
    if found is not None:
        return found
    if name in BUILTIN:
        found = _declaration(importlib.import_module(BUILTIN[name]), name)
    elif name in _entry_points():
        try:
            found = _declaration(_entry_points()[name].load(), name)
        except ImportError as exc:
            raise UsageError(f"Vault driver '{name}' cannot be loaded: {exc}") from None
    else:
        raise UsageError(f"Unknown vault driver '{name}' (known: {', '.join(names())})")
    _loaded[name] = found
    return found


def all_drivers() -> list[Driver]:
    return [get(name) for name in names()]


def referencing() -> list[str]:
    """The drivers whose vaults give deployment references (`keep refs`)."""
    return [driver.name for driver in all_drivers() if driver.capabilities.references]


def register(driver: Driver) -> None:
    """Register a declaration directly (what a test or an embedding application does; a
    package uses the entry-point group instead)."""
    _loaded[driver.name] = driver


def forget(name: str) -> None:
    """Undo :func:`register` (tests)."""
    _loaded.pop(name, None)
    global _plugins
    _plugins = None

