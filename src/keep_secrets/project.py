"""The `.keep/` project files (SPEC §2): find, load, validate and save them atomically.

Unknown fields are carried through untouched so that a newer keep (or PHP Keep) never loses
what it wrote. Corrupt files raise a UsageError naming the file and line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fsutil import atomic_write
from .model import Conflict, NotFound, UsageError
from .names import (
    validate_namespace,
    validate_slug,
    validate_stage_name,
)

KEEP_DIR = ".keep"
SYSTEM_STAGES = ("local", "staging", "production")
DRIVERS = ("local", "ssm", "secretsmanager")
SSM_TIERS = ("Standard", "Advanced", "Intelligent-Tiering")
GITIGNORE = "# Personal files (local vault data, workspace) are never committed\nlocal/\n"

_VAULT_COMMON = ("slug", "driver", "name", "scope")


class NotInitialised(UsageError):
    pass


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"Cannot read {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            hint="fix the file or re-run `keep init` to repair it",
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: line 1: expected a JSON object, found {type(data).__name__}")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=4, ensure_ascii=False) + "\n", mode=0o644)


@dataclass
class Settings:
    app_name: str
    namespace: str
    stages: list[str]
    default_vault: str | None = None
    template_path: str = "env"
    version: str = "1.0"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "settings.json") -> Settings:
        extra = dict(data)
        for known in ("app_name", "namespace", "stages", "envs", "default_vault", "template_path", "version"):
            extra.pop(known, None)
        stages = data.get("stages", data.get("envs"))
        if "namespace" not in data:
            raise UsageError(f"{source}: missing required setting 'namespace'")
        if stages is None:
            raise UsageError(f"{source}: missing required setting 'stages'")
        settings = cls(
            app_name=str(data.get("app_name") or data["namespace"]),
            namespace=data["namespace"],
            stages=stages,
            default_vault=data.get("default_vault") or None,
            template_path=data.get("template_path") or "env",
            version=str(data.get("version") or "1.0"),
            extra=extra,
        )
        settings.validate(source)
        return settings

    def validate(self, source: str = "settings.json") -> None:
        try:
            if not isinstance(self.namespace, str):
                raise UsageError("namespace must be a string")
            validate_namespace(self.namespace)
            if not isinstance(self.stages, list) or not self.stages:
                raise UsageError("at least one stage must be defined")
            for stage in self.stages:
                if not isinstance(stage, str):
                    raise UsageError("stages must be strings")
                validate_stage_name(stage)
            if len(set(self.stages)) != len(self.stages):
                raise UsageError("duplicate stages are not allowed")
            if self.default_vault is not None:
                validate_slug(self.default_vault)
            if len(self.app_name) > 100 or not self.app_name.strip():
                raise UsageError("app_name must be 1-100 characters")
        except UsageError as exc:
            raise UsageError(f"{source}: {exc.message}") from None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "app_name": self.app_name,
            "namespace": self.namespace,
            "stages": list(self.stages),
            "default_vault": self.default_vault,
            "template_path": self.template_path,
            "version": self.version,
        }
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data


@dataclass
class VaultConfig:
    slug: str
    driver: str
    name: str
    scope: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "vault") -> VaultConfig:
        options = {k: v for k, v in data.items() if k not in _VAULT_COMMON}
        for required in ("slug", "driver"):
            if not data.get(required):
                raise UsageError(f"{source}: missing required field '{required}'")
        config = cls(
            slug=str(data["slug"]),
            driver=str(data["driver"]),
            name=str(data.get("name") or data["slug"]),
            scope=str(data.get("scope") or "").strip("/"),
            options=options,
        )
        config.validate(source)
        return config

    def validate(self, source: str = "vault") -> None:
        try:
            validate_slug(self.slug)
            if self.driver not in DRIVERS:
                raise UsageError(f"unknown driver '{self.driver}' (known: {', '.join(DRIVERS)})")
            if self.scope and not all(
                part and all(c.isalnum() or c in "_-" for c in part) for part in self.scope.split("/")
            ):
                raise UsageError(f"invalid scope '{self.scope}': use path segments of A-Z a-z 0-9 _ -")
            opts = self.options
            tier = opts.get("tier")
            if tier is not None and tier not in SSM_TIERS:
                raise UsageError(f"invalid tier '{tier}' (use {', '.join(SSM_TIERS)})")
            window = opts.get("recovery_window_days")
            if window is not None and (
                not isinstance(window, int) or isinstance(window, bool) or not (window == 0 or 7 <= window <= 30)
            ):
                raise UsageError(f"invalid recovery_window_days '{window}' (use 7-30, or 0 to delete at once)")
            replicas = opts.get("replica_regions")
            if replicas is not None and (
                not isinstance(replicas, list) or not all(isinstance(r, str) and r for r in replicas)
            ):
                raise UsageError("replica_regions must be a list of region names")
            stage_tag = opts.get("stage_tag")
            if stage_tag is not None and stage_tag not in ("Stage", "Env"):
                raise UsageError(f"invalid stage_tag '{stage_tag}' (use Stage or Env)")
        except UsageError as exc:
            raise UsageError(f"{source}: {exc.message}") from None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"slug": self.slug, "driver": self.driver, "name": self.name, "scope": self.scope}
        data.update(self.options)
        return data

    def get(self, option: str, default: Any = None) -> Any:
        value = self.options.get(option)
        return default if value in (None, "") else value


@dataclass
class Workspace:
    vaults: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Workspace:
        extra = {k: v for k, v in data.items() if k not in ("vaults", "stages", "active_vaults", "active_envs")}
        vaults = data.get("vaults", data.get("active_vaults")) or []
        stages = data.get("stages", data.get("active_envs")) or []
        return cls([str(v) for v in vaults], [str(s) for s in stages], extra)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"vaults": self.vaults, "stages": self.stages}
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data


def find_root(start: Path | None = None) -> Path | None:
    """The nearest directory (start or a parent) holding `.keep/`, like git."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / KEEP_DIR).is_dir():
            return candidate
    return None


class Project:
    """A loaded project: settings, vault configs and the personal workspace."""

    def __init__(self, root: Path, settings: Settings, vaults: dict[str, VaultConfig], workspace: Workspace):
        self.root = root
        self.settings = settings
        self.vaults = vaults
        self.workspace = workspace

    # -- locating -------------------------------------------------------------------------
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
        return self.root / self.settings.template_path

    # -- loading --------------------------------------------------------------------------
    @classmethod
    def load(cls, start: Path | None = None) -> Project:
        root = find_root(start)
        if root is None:
            raise NotInitialised(
                "Keep is not initialised here (no .keep/ in this directory or any parent)",
                hint="run `keep init`",
            )
        return cls.load_at(root)

    @classmethod
    def load_at(cls, root: Path) -> Project:
        settings_path = root / KEEP_DIR / "settings.json"
        if not settings_path.exists():
            raise NotInitialised(f"{settings_path} is missing", hint="run `keep init`")
        settings = Settings.from_dict(_read_json(settings_path), str(settings_path))
        vaults = cls._load_vaults(root)
        workspace = Workspace()
        ws_path = root / KEEP_DIR / "local" / "workspace.json"
        if ws_path.exists():
            workspace = Workspace.from_dict(_read_json(ws_path))
        return cls(root, settings, vaults, workspace)

    @staticmethod
    def _load_vaults(root: Path) -> dict[str, VaultConfig]:
        vaults: dict[str, VaultConfig] = {}
        directory = root / KEEP_DIR / "vaults"
        if directory.is_dir():
            for path in sorted(directory.glob("*.json")):
                data = _read_json(path)
                data.setdefault("slug", path.stem)
                config = VaultConfig.from_dict(data, str(path))
                if config.slug != path.stem:
                    raise UsageError(f"{path}: slug '{config.slug}' does not match the file name")
                vaults[config.slug] = config
        return vaults

    # -- saving ---------------------------------------------------------------------------
    def ensure_dirs(self) -> None:
        (self.keep_dir / "vaults").mkdir(parents=True, exist_ok=True)
        self.local_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.local_dir, 0o700)
        gitignore = self.keep_dir / ".gitignore"
        if not gitignore.exists():
            atomic_write(gitignore, GITIGNORE)

    def save_settings(self) -> None:
        self.settings.validate(str(self.settings_path))
        _write_json(self.settings_path, self.settings.to_dict())

    def save_vault(self, config: VaultConfig) -> None:
        config.validate(str(self.vault_path(config.slug)))
        (self.keep_dir / "vaults").mkdir(parents=True, exist_ok=True)
        _write_json(self.vault_path(config.slug), config.to_dict())
        self.vaults[config.slug] = config

    def delete_vault(self, slug: str) -> None:
        self.vault_path(slug).unlink(missing_ok=True)
        self.vaults.pop(slug, None)

    def save_workspace(self) -> None:
        self.local_dir.mkdir(parents=True, exist_ok=True)
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
            raise UsageError(
                f"Unknown stage '{stage}'; configured stages: {', '.join(self.settings.stages)}",
                hint="add it with `keep stage:add`" if _looks_like_stage(stage) else None,
            )
        return stage

    def check_vault(self, slug: str) -> VaultConfig:
        config = self.vaults.get(slug)
        if config is None:
            known = ", ".join(sorted(self.vaults)) or "none"
            raise UsageError(f"Unknown vault '{slug}'; configured vaults: {known}")
        return config

    def add_stage(self, name: str) -> None:
        validate_stage_name(name)
        if name in self.settings.stages:
            raise Conflict(f"Stage '{name}' already exists")
        self.settings.stages.append(name)
        self.save_settings()

    def remove_stage(self, name: str) -> None:
        if name in SYSTEM_STAGES:
            raise UsageError(f"Stage '{name}' is a system stage and cannot be removed ({', '.join(SYSTEM_STAGES)})")
        if name not in self.settings.stages:
            raise NotFound(f"Stage '{name}' is not configured; stages: {', '.join(self.settings.stages)}")
        self.settings.stages.remove(name)
        self.save_settings()
        if name in self.workspace.stages:
            self.workspace.stages.remove(name)
            self.save_workspace()


def _looks_like_stage(name: str) -> bool:
    try:
        validate_stage_name(name)
    except UsageError:
        return False
    return True
