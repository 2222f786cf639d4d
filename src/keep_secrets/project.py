"""The `.keep/` project files (SPEC §2): find, load, validate and save them atomically.

Unknown fields are carried through untouched so that a newer keep (or PHP Keep) never loses
what it wrote. Corrupt files raise a UsageError naming the file and line.
"""

from __future__ import annotations

import json
import os
import re

from . import fsutil
from .fsutil import atomic_write, cannot, make_dirs
from .model import Conflict, NotFound, UsageError
from .names import (
    validate_namespace,
    validate_slug,
    validate_stage_name,
)
from .record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: `keep get` start-up)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, ClassVar

KEEP_DIR = ".keep"
SYSTEM_STAGES = ("local", "staging", "production")
GITIGNORE = "# Personal files (local vault data, workspace) are never committed\nlocal/\n"

_VAULT_COMMON = ("slug", "driver", "name", "scope")


class NotInitialised(UsageError):
    pass


class InvalidField(UsageError):
    """A settings/vault field failed validation; `field` lets the loader point at its line."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def line_of(text: str | None, field_name: str) -> int | None:
    """The line where `"field_name":` first appears in a JSON text (1-based), if any."""
    if not text:
        return None
    match = re.search(r'"' + re.escape(field_name) + r'"\s*:', text)
    if match is None:
        return None
    return text.count("\n", 0, match.start()) + 1


def _located(source: str, exc: UsageError, text: str | None) -> UsageError:
    line = line_of(text, exc.field) if isinstance(exc, InvalidField) else None
    where = f"{source}: line {line}" if line else source
    return UsageError(f"{where}: {exc.message}", hint=exc.hint, fix=exc.fix)


def _read_json_text(path: Path | str) -> tuple[dict[str, Any], str]:
    """The parsed object and the raw text (kept so validation errors can name a line)."""
    try:
        with open(path, encoding="utf-8") as handle:  # Path.read_text, without pathlib on `keep get`'s path
            text = handle.read()
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist") from None
    except PermissionError as exc:
        raise cannot("read", path, exc) from None
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"Cannot read {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            hint="fix the file",
            fix=("init-repair",),
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: line 1: expected a JSON object, found {type(data).__name__}")
    return data, text


def _write_json(path: Path, data: dict[str, Any]) -> None:
    try:
        atomic_write(path, json.dumps(data, indent=4, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise cannot("write", path, exc) from None


def _exists(path: Path | str) -> bool:
    """Path.exists(), but an unreadable directory on the way is one clear line, not a traceback."""
    try:
        return fsutil.exists(os.fspath(path))
    except OSError as exc:
        raise cannot("read", path, exc) from None


def _normal(path: Path | str) -> str:
    """`str(Path(path))`: the spelling pathlib gives a path (without importing pathlib for the
    absolute, already normal path `keep get` has)."""
    text = os.fspath(path)
    if fsutil.plain(text):
        return text
    from pathlib import Path

    return str(Path(text))


def _child(base: str, *names: str) -> str:
    """`str(Path(base, *names))` for a normal `base` (see :func:`_normal`) and plain names."""
    if base == ".":
        return "/".join(names)
    return (base if base.endswith("/") else base + "/") + "/".join(names)


def _make_dir(path: Path, mode: int | None = None) -> None:
    try:
        make_dirs(path)  # made 0755 at most: the umask can tighten it, never loosen it
        if mode is not None:
            os.chmod(path, mode)
    except OSError as exc:
        raise cannot("write", path, exc) from None


def template_dir_inside(root: Path, template_path: str) -> Path:
    """`template_path` (relative to the project root) as a directory that resolves inside the
    project, symlinks included; a UsageError otherwise. The web UI's template editor lists,
    writes and deletes `*.env` files there, so it must never point elsewhere."""
    text = template_path.strip()
    if not text or "\0" in text:
        raise UsageError("template_path must be a non-empty directory path inside the project")
    base = root.resolve()
    resolved = (base / text).resolve()
    if resolved != base and base not in resolved.parents:
        raise UsageError(
            f"template_path {template_path!r} is outside the project",
            hint="use a directory inside the project root, such as 'env'",
        )
    return root / text


@record()
class Settings:
    """The project's .keep/settings.json: name, namespace, stages, default vault."""

    app_name: str
    namespace: str
    stages: list[str]
    default_vault: str | None = None
    template_path: str = "env"
    version: str = "1.0"
    extra: dict[str, Any] = field(default_factory=dict)
    #: the key the stage list is stored under: a project made by PHP Keep keeps its `envs`
    #: so Keep can still open the file after keep has written it
    stages_key: str = "stages"

    KNOWN: ClassVar[tuple[str, ...]] = (
        "app_name", "namespace", "stages", "envs", "default_vault", "template_path", "version",
    )

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], source: str = "settings.json", text: str | None = None
    ) -> Settings:
        """Build and validate; `text` (the file's JSON) lets errors name the offending line."""
        extra = {k: v for k, v in data.items() if k not in cls.KNOWN}
        # Keep's `envs` (and its older `stages`) are both accepted so existing projects open unchanged
        stages_field = "stages" if "stages" in data else "envs"
        stages = data.get(stages_field)
        try:
            if "namespace" not in data:
                raise UsageError("missing required setting 'namespace'")
            if stages is None:
                raise UsageError("missing required setting 'stages'")
            app_name = data.get("app_name")
            if app_name is not None and not isinstance(app_name, str):
                raise InvalidField("app_name", "app_name must be a string")
            template_path = data.get("template_path")
            if template_path is not None and not isinstance(template_path, str):
                raise InvalidField("template_path", "template_path must be a string")
            default_vault = data.get("default_vault")
            if default_vault is not None and not isinstance(default_vault, str):
                raise InvalidField("default_vault", "default_vault must be a string or null")
            settings = cls(
                app_name=app_name or str(data["namespace"]),
                namespace=data["namespace"],
                stages=stages,
                default_vault=default_vault or None,
                template_path=template_path or "env",
                version=str(data.get("version") or "1.0"),
                extra=extra,
                stages_key=stages_field,
            )
            settings._check(stages_field)
        except UsageError as exc:
            raise _located(source, exc, text) from None
        return settings

    def validate(self, source: str = "settings.json") -> None:
        try:
            self._check(self.stages_key)
        except UsageError as exc:
            raise _located(source, exc, None) from None

    def _check(self, stages_field: str = "stages") -> None:
        if not isinstance(self.namespace, str):
            raise InvalidField("namespace", "namespace must be a string")
        try:
            validate_namespace(self.namespace)
        except UsageError as exc:
            raise InvalidField("namespace", exc.message) from None
        if not isinstance(self.stages, list) or not self.stages:
            raise InvalidField(stages_field, f"{stages_field} must be a non-empty list of stage names")
        for stage in self.stages:
            if not isinstance(stage, str):
                raise InvalidField(stages_field, f"{stages_field} must contain only strings")
            try:
                validate_stage_name(stage)
            except UsageError as exc:
                raise InvalidField(stages_field, exc.message) from None
        if len(set(self.stages)) != len(self.stages):
            dupes = sorted({s for s in self.stages if self.stages.count(s) > 1})
            raise InvalidField(stages_field, f"duplicate stages are not allowed: {', '.join(dupes)}")
        if self.default_vault is not None:
            try:
                validate_slug(self.default_vault)
            except UsageError as exc:
                raise InvalidField("default_vault", exc.message) from None
        if len(self.app_name) > 100 or not self.app_name.strip():
            raise InvalidField("app_name", "app_name must be 1-100 characters")
        if not self.template_path.strip() or "\0" in self.template_path:
            raise InvalidField("template_path", "template_path must be a non-empty directory path")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "app_name": self.app_name,
            "namespace": self.namespace,
            self.stages_key: list(self.stages),
            "default_vault": self.default_vault,
            "template_path": self.template_path,
            "version": self.version,
        }
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data


@record()
class VaultConfig:
    """One vault's .keep/vaults/SLUG.json: slug, driver, name, scope and driver options."""

    slug: str
    driver: str
    name: str
    scope: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "vault", text: str | None = None) -> VaultConfig:
        options = {k: v for k, v in data.items() if k not in _VAULT_COMMON}
        try:
            for required in ("slug", "driver"):
                if not data.get(required):
                    raise UsageError(f"missing required field '{required}'")
                if not isinstance(data[required], str):
                    raise InvalidField(required, f"{required} must be a string")
            for text_field in ("name", "scope"):
                if data.get(text_field) is not None and not isinstance(data[text_field], str):
                    raise InvalidField(text_field, f"{text_field} must be a string")
            config = cls(
                slug=data["slug"],
                driver=data["driver"],
                name=str(data.get("name") or data["slug"]),
                scope=str(data.get("scope") or "").strip("/"),
                options=options,
            )
            config._check()
        except UsageError as exc:
            raise _located(source, exc, text) from None
        return config

    def validate(self, source: str = "vault") -> None:
        try:
            self._check()
        except UsageError as exc:
            raise _located(source, exc, None) from None

    def _check(self) -> None:
        try:
            validate_slug(self.slug)
        except UsageError as exc:
            raise InvalidField("slug", exc.message) from None
        from .vaults import registry

        if not registry.is_known(self.driver):
            raise InvalidField("driver", f"unknown driver '{self.driver}' (known: {', '.join(registry.names())})")
        if len(self.name) > 100 or not self.name.strip():
            raise InvalidField("name", "name must be 1-100 characters")
        if self.scope and not all(
            part and all(c.isascii() and (c.isalnum() or c in "_-") for c in part)
            for part in self.scope.split("/")
        ):
            raise InvalidField("scope", f"invalid scope '{self.scope}': use path segments of A-Z a-z 0-9 _ -")
        # each driver declares its fields (vaults/registry.py); others are carried through
        for option in registry.get(self.driver).options:
            if option.name not in self.options:
                continue
            if option.secret:
                where = ", ".join(option.env) or "the environment"
                raise InvalidField(
                    option.name, f"{option.name} is a credential and is never stored in .keep/ (use {where})"
                )
            problem = option.problem(self.options[option.name])
            if problem is not None:
                raise InvalidField(option.name, problem)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "slug": self.slug, "driver": self.driver, "name": self.name, "scope": self.scope,
        }
        data.update(self.options)
        return data

    def get(self, option: str, default: Any = None) -> Any:
        value = self.options.get(option)
        return default if value in (None, "") else value


@record()
class Workspace:
    """The personal choice of vaults and stages to show (.keep/local/workspace.json)."""

    vaults: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], source: str = "workspace.json", text: str | None = None
    ) -> Workspace:
        known = ("vaults", "stages", "active_vaults", "active_envs")
        extra = {k: v for k, v in data.items() if k not in known}
        lists: list[list[str]] = []
        # Keep writes active_vaults/active_envs; both spellings are read
        for name, legacy in (("vaults", "active_vaults"), ("stages", "active_envs")):
            used = name if name in data else legacy
            value = data.get(used) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _located(source, InvalidField(used, f"{used} must be a list of names"), text)
            lists.append(list(value))
        return cls(lists[0], lists[1], extra)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"vaults": self.vaults, "stages": self.stages}
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data


def find_root(start: Path | None = None) -> Path | None:
    """The nearest directory (start or a parent) holding `.keep/`, like git."""
    found = _find_root_text(start)
    if found is None:
        return None
    from pathlib import Path

    return Path(found)


def _find_root_text(start: Path | str | None = None) -> str | None:
    """:func:`find_root` as text (`keep get` reads the project without pathlib)."""
    here = fsutil.resolve(os.getcwd() if start is None else os.fspath(start))
    while True:
        if fsutil.is_dir(_child(here, KEEP_DIR)):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


class Project:
    """A loaded project: settings, vault configs and the personal workspace."""

    def __init__(
        self, root: Path | str, settings: Settings, vaults: dict[str, VaultConfig], workspace: Workspace
    ) -> None:
        #: the project directory as pathlib spells it (`keep get` never needs the Path itself)
        self.root_text = _normal(root)
        self._root: Path | None = None
        self.settings = settings
        self.vaults = vaults
        self.workspace = workspace

    # -- locating -------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        if self._root is None:
            from pathlib import Path

            self._root = Path(self.root_text)
        return self._root

    @property
    def keep_dir(self) -> Path:
        return self.root / KEEP_DIR

    @property
    def settings_path(self) -> Path:
        return self.keep_dir / "settings.json"

    def vault_path(self, slug: str) -> Path:
        return self.keep_dir / "vaults" / f"{slug}.json"

    @property
    def local_dir(self) -> Path:
        return self.keep_dir / "local"

    @property
    def workspace_path(self) -> Path:
        return self.local_dir / "workspace.json"

    @property
    def template_dir(self) -> Path:
        """The template directory; always inside the project (UsageError otherwise, e.g. a
        hand-edited settings.json pointing at `/etc` or `../..`)."""
        return template_dir_inside(self.root, self.settings.template_path)

    # -- loading --------------------------------------------------------------------------
    @classmethod
    def load(cls, start: Path | None = None) -> Project:
        root = _find_root_text(start)
        if root is None:
            raise NotInitialised(
                "Keep is not initialised here (no .keep/ in this directory or any parent)",
                fix=("init",),
            )
        return cls.load_at(root)

    @classmethod
    def load_at(cls, root: Path | str) -> Project:
        root = _normal(root)
        settings_path = _child(root, KEEP_DIR, "settings.json")
        if not _exists(settings_path):
            raise NotInitialised(f"{settings_path} is missing", fix=("init",))
        data, text = _read_json_text(settings_path)
        settings = Settings.from_dict(data, str(settings_path), text)
        vaults = cls._load_vaults(root)
        workspace = Workspace()
        ws_path = _child(root, KEEP_DIR, "local", "workspace.json")
        if _exists(ws_path):
            ws_data, ws_text = _read_json_text(ws_path)
            workspace = Workspace.from_dict(ws_data, str(ws_path), ws_text)
        return cls(root, settings, vaults, workspace)

    @staticmethod
    def _load_vaults(root: str) -> dict[str, VaultConfig]:
        vaults: dict[str, VaultConfig] = {}
        directory = _child(root, KEEP_DIR, "vaults")
        if fsutil.is_dir(directory):
            for name in fsutil.names_matching_suffix(directory, ".json"):  # sorted(glob("*.json"))
                path = _child(directory, name)
                data, text = _read_json_text(path)
                data.setdefault("slug", fsutil.stem(name))
                config = VaultConfig.from_dict(data, path, text)
                if config.slug != fsutil.stem(name):
                    raise _located(
                        str(path),
                        InvalidField("slug", f"slug '{config.slug}' does not match the file name"),
                        text,
                    )
                vaults[config.slug] = config
        return vaults

    # -- saving ---------------------------------------------------------------------------
    def ensure_dirs(self) -> None:
        _make_dir(self.keep_dir / "vaults")
        _make_dir(self.local_dir, 0o700)
        gitignore = self.keep_dir / ".gitignore"
        if not _exists(gitignore):
            try:
                atomic_write(gitignore, GITIGNORE)
            except OSError as exc:
                raise cannot("write", gitignore, exc) from None

    def save_settings(self) -> None:
        self.settings.validate(str(self.settings_path))
        _write_json(self.settings_path, self.settings.to_dict())

    def save_vault(self, config: VaultConfig) -> None:
        config.validate(str(self.vault_path(config.slug)))
        _make_dir(self.keep_dir / "vaults")
        _write_json(self.vault_path(config.slug), config.to_dict())
        self.vaults[config.slug] = config

    def delete_vault(self, slug: str) -> None:
        try:
            self.vault_path(slug).unlink(missing_ok=True)
        except OSError as exc:
            raise cannot("write", self.vault_path(slug), exc) from None
        self.vaults.pop(slug, None)

    def save_workspace(self) -> None:
        _make_dir(self.local_dir)
        _write_json(self.workspace_path, self.workspace.to_dict())

    # -- queries --------------------------------------------------------------------------
    @property
    def namespace(self) -> str:
        return self.settings.namespace

    @property
    def stages(self) -> list[str]:
        return list(self.settings.stages)

    def visible_stages(self) -> list[str]:
        """Stages after the personal workspace filter (unknown names in it are ignored)."""
        chosen = [s for s in self.workspace.stages if s in self.settings.stages]
        return chosen or self.stages

    def visible_vaults(self) -> list[str]:
        chosen = [v for v in self.workspace.vaults if v in self.vaults]
        return chosen or sorted(self.vaults)

    def check_stage(self, stage: str) -> str:
        """A stage must be configured: a typo is an error listing the stages (exit 2)."""
        if stage not in self.settings.stages:
            guess = _did_you_mean(stage, self.settings.stages)
            raise UsageError(
                f"Unknown stage '{stage}'{guess}; configured stages: {', '.join(self.settings.stages)}",
                fix=("stage:add", stage) if _looks_like_stage(stage) and not guess else (),
            )
        return stage

    def default_vault_problem(self) -> str | None:
        """Why settings.default_vault cannot be used, or None (also when there is none)."""
        default = self.settings.default_vault
        if not default or default in self.vaults:
            return None
        known = ", ".join(sorted(self.vaults)) or "none"
        return f"default_vault '{default}' in {self.settings_path} is not a configured vault (configured: {known})"

    def configured_default_vault(self) -> str | None:
        """settings.default_vault; naming a vault that is not configured is a configuration
        error (exit 2), never silently replaced by another vault."""
        problem = self.default_vault_problem()
        if problem:
            raise UsageError(problem, fix=("default-or-add",))
        return self.settings.default_vault

    def check_vault(self, slug: str) -> VaultConfig:
        config = self.vaults.get(slug)
        if config is None:
            known = ", ".join(sorted(self.vaults)) or "none"
            guess = _did_you_mean(slug, sorted(self.vaults))
            raise UsageError(f"Unknown vault '{slug}'{guess}; configured vaults: {known}")
        return config

    def add_stage(self, name: str) -> None:
        validate_stage_name(name)
        if name in self.settings.stages:
            raise Conflict(f"Stage '{name}' already exists")
        self.settings.stages.append(name)
        self.save_settings()

    def remove_stage(self, name: str) -> None:
        if name in SYSTEM_STAGES:
            raise UsageError(
                f"Stage '{name}' is a system stage and cannot be removed ({', '.join(SYSTEM_STAGES)})"
            )
        if name not in self.settings.stages:
            raise NotFound(f"Stage '{name}' is not configured; stages: {', '.join(self.settings.stages)}")
        self.settings.stages.remove(name)
        self.save_settings()
        if name in self.workspace.stages:
            self.workspace.stages.remove(name)
            self.save_workspace()


def _did_you_mean(word: str, choices: list[str]) -> str:
    """` (did you mean production?)` for a typo or a unique prefix, else ''."""
    if "," in word:
        # a list given to a command that takes one: guessing one of its items would mislead
        return " (this command takes a single one; comma-separated lists are for diff and export/run --vault)"
    prefixed = [c for c in choices if c.startswith(word)] if word else []
    if len(prefixed) == 1:
        return f" (did you mean {prefixed[0]}?)"
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _looks_like_stage(name: str) -> bool:
    try:
        validate_stage_name(name)
    except UsageError:
        return False
    return True
