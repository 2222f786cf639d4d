"""Project set-up operations behind `init`, `stage:*`, `workspace` and `info` (the `vault:*`
operations live in vault_config.py).

Every operation validates everything it will write *before* writing anything, so a rejected
input leaves `.keep/` exactly as it was. `init` reads the existing files leniently: whatever
is corrupt is reported, backed up under `.keep/local/repaired/` and replaced, so `init` can
repair a project that every other command refuses to open.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..fsutil import atomic_write
from ..model import Conflict, NotFound, UsageError
from ..names import split_list, validate_friendly_name, validate_namespace, validate_stage_name
from ..project import (
    GITIGNORE,
    KEEP_DIR,
    SYSTEM_STAGES,
    Project,
    Settings,
    VaultConfig,
    Workspace,
    find_root,
    template_dir_inside,
)
from ..vaults import registry
from .vault_config import data_file

DEFAULT_STAGES = ("local", "staging", "production")


# -- names ------------------------------------------------------------------------------------

def slugify(name: str) -> str:
    """A namespace from an app name: lower case, runs of other characters become `-`."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:100].strip("-")
    return slug or "app"


def detect_app_name(root: Path) -> str:
    """The project's own name where a manifest declares one, else the directory name."""
    try:
        import tomllib

        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        name = data.get("project", {}).get("name")
        if isinstance(name, str) and name.strip():
            return name.strip()[:100]
    except (OSError, ValueError, AttributeError):
        pass
    for manifest in ("package.json", "composer.json"):
        try:
            data = json.loads((root / manifest).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        name = data.get("name") if isinstance(data, dict) else None
        if isinstance(name, str) and name.strip():
            return name.strip().rsplit("/", 1)[-1][:100]
    return root.name[:100] or "app"


def parse_stages(text: str) -> list[str]:
    """`a,b,c` -> validated, duplicate-free stage names (exit 2 otherwise)."""
    stages = split_list(text)
    if not stages:
        raise UsageError("At least one stage is required (e.g. --stages=local,staging,production)")
    for stage in stages:
        validate_stage_name(stage)
    dupes = sorted({s for s in stages if stages.count(s) > 1})
    if dupes:
        raise UsageError(f"Duplicate stage(s) in the list: {', '.join(dupes)}")
    return stages


def validate_app_name(name: str) -> str:
    return validate_friendly_name(name, "app")


# -- init: lenient reading and repair ---------------------------------------------------------

@dataclass
class Existing:
    """What `init` found in `.keep/`, read leniently. `repairs` lists what will be replaced."""

    root: Path
    settings: dict[str, Any] | None = None
    vaults: dict[str, VaultConfig] = field(default_factory=dict)
    workspace: Workspace = field(default_factory=Workspace)
    repairs: list[str] = field(default_factory=list)
    # corrupt files to move aside (source, reason) and vault files to rewrite in clean form
    backups: list[Path] = field(default_factory=list)
    rewrite_vaults: set[str] = field(default_factory=set)
    rewrite_workspace: bool = False
    #: `settings` holds only what could be recovered from a settings.json that is not valid JSON
    salvaged: bool = False


def _load_json_lenient(
    path: Path, existing: Existing, salvage: Callable[[str, Existing], dict[str, Any] | None] | None = None
) -> dict[str, Any] | None:
    """The JSON object in `path`, or None (the problem recorded in `existing`); a file that is
    not valid JSON gives what `salvage` recovers from its text, if given."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        existing.repairs.append(f"{path}: unreadable ({exc}); replaced")
        existing.backups.append(path)
        return None
    except json.JSONDecodeError as exc:
        existing.repairs.append(f"{path}: invalid JSON at line {exc.lineno} ({exc.msg}); replaced")
        existing.backups.append(path)
        return None if salvage is None else salvage(text, existing)
    if not isinstance(data, dict):
        existing.repairs.append(f"{path}: not a JSON object; replaced")
        existing.backups.append(path)
        return None
    return data


def read_existing(root: Path) -> Existing:
    existing = Existing(root)
    keep_dir = root / KEEP_DIR
    settings_path = keep_dir / "settings.json"
    if settings_path.exists():
        existing.settings = _load_json_lenient(settings_path, existing, salvage=_salvage_settings)
    vault_dir = keep_dir / "vaults"
    if vault_dir.is_dir():
        for path in sorted(vault_dir.glob("*.json")):
            data = _load_json_lenient(path, existing)
            if data is None:
                continue
            config = _repair_vault(path, data, existing)
            if config is not None:
                existing.vaults[config.slug] = config
    ws_path = keep_dir / "local" / "workspace.json"
    if ws_path.exists():
        data = _load_json_lenient(ws_path, existing)
        if data is None:
            existing.rewrite_workspace = True
        else:
            try:
                existing.workspace = Workspace.from_dict(data, str(ws_path))
            except UsageError as exc:
                existing.repairs.append(f"{exc.message}; workspace reset to all vaults and stages")
                existing.backups.append(ws_path)
                existing.rewrite_workspace = True
    return existing


_JSON_STRING = r'"((?:[^"\\\x00-\x1f]|\\.)*)"'


def _salvage_settings(text: str, existing: Existing) -> dict[str, Any] | None:
    """The settings a damaged (not parseable) settings.json still spells out whole: a
    truncated file or a stray comma must not cost the project its namespace (which names
    where every remote secret is stored) or its stages. Each value is validated later as
    any other; one not found complete is simply absent."""
    found: dict[str, Any] = {}
    for name in ("app_name", "namespace", "default_vault", "template_path", "version"):
        match = re.search(rf'"{name}"\s*:\s*{_JSON_STRING}', text)
        if match is not None:
            with contextlib.suppress(ValueError):
                found[name] = json.loads(f'"{match.group(1)}"')
    for name in ("stages", "envs"):
        match = re.search(rf'"{name}"\s*:\s*\[([^\]]*)\]', text)
        if match is not None:
            found[name] = re.findall(_JSON_STRING, match.group(1))
            break
    if not found:
        return None
    shown = ", ".join(f"{k} {v!r}" for k, v in found.items() if k in ("namespace", "stages", "envs"))
    if shown:
        # said on the line that reports the damaged file (appended just before)
        existing.repairs[-1] += f" (recovered {shown})"
    existing.salvaged = True
    return found


def _repair_vault(path: Path, data: dict[str, Any], existing: Existing) -> VaultConfig | None:
    """A vault config with its defaultable fields repaired, or None when it cannot be saved
    (no usable slug or driver): then the file is backed up and dropped."""
    data = dict(data)
    data.setdefault("slug", path.stem)
    if data.get("slug") != path.stem:
        existing.repairs.append(f"{path}: slug {data.get('slug')!r} did not match the file name; set to '{path.stem}'")
        data["slug"] = path.stem
        existing.rewrite_vaults.add(path.stem)
    # fields that have a safe default are dropped one by one until the rest validates: every
    # option the driver declares is optional (absent = the driver's default)
    driver = data.get("driver")
    declared = registry.get(driver).options if isinstance(driver, str) and registry.is_known(driver) else ()
    droppable = ("scope", "name", *(option.name for option in declared))
    while True:
        try:
            return VaultConfig.from_dict(data, str(path))
        except UsageError as exc:
            reason = exc.message.removeprefix(str(path))
            culprit = next((f for f in droppable if f in data and _field_named(reason, f)), None)
            if culprit is None:
                existing.repairs.append(f"{exc.message}; vault config removed")
                existing.backups.append(path)
                return None
            existing.repairs.append(f"{exc.message}; field '{culprit}' reset to its default")
            del data[culprit]
            existing.rewrite_vaults.add(path.stem)


def _field_named(message: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", message) is not None


@dataclass
class InitResult:
    root: Path
    created: bool
    settings: Settings
    added_local_vault: bool
    repairs: list[str]
    backup_dir: Path | None


def existing_values(existing: Existing) -> tuple[str | None, str | None, list[str] | None]:
    """The valid app name, namespace and stages already in settings.json (None where absent or
    invalid; invalid ones are recorded in `existing.repairs`)."""
    data = existing.settings or {}
    if existing.settings is not None and not existing.salvaged:
        for required, alternative in (("namespace", "namespace"), ("stages", "envs")):
            if required not in data and alternative not in data:
                existing.repairs.append(f"settings.json: missing required setting '{required}'; default used")
    name = data.get("app_name")
    if name is not None:
        try:
            validate_app_name(name if isinstance(name, str) else "")
        except UsageError:
            existing.repairs.append(f"settings.json: invalid app_name {name!r}; replaced")
            name = None
    namespace = data.get("namespace")
    if namespace is not None:
        try:
            validate_namespace(namespace if isinstance(namespace, str) else "")
        except UsageError:
            existing.repairs.append(f"settings.json: invalid namespace {namespace!r}; replaced")
            namespace = None
    raw_stages = data.get("stages", data.get("envs"))
    stages: list[str] | None = None
    if raw_stages is not None:
        try:
            if not isinstance(raw_stages, list) or not all(isinstance(s, str) for s in raw_stages):
                raise UsageError("not a list of names")
            stages = parse_stages(",".join(raw_stages))
        except UsageError:
            existing.repairs.append(f"settings.json: invalid stages {raw_stages!r}; replaced")
    return name, namespace, stages


def _inside_project(root: Path, template_path: str) -> bool:
    try:
        template_dir_inside(root, template_path)
    except UsageError:
        return False
    return True


def validate_template_path(project: Project, template_path: str) -> str:
    """The template directory a user sets (web settings): inside the project, or a UsageError."""
    template_dir_inside(project.root, template_path)
    return template_path.strip()


def init_project(
    existing: Existing, name: str, namespace: str, stages: list[str], *, created: bool
) -> InitResult:
    """Validate everything, then write `.keep/` (settings, vaults, workspace, .gitignore)."""
    validate_app_name(name)
    validate_namespace(namespace)
    stages = parse_stages(",".join(stages))
    root = existing.root
    data = dict(existing.settings or {})
    extra = {k: v for k, v in data.items() if k not in Settings.KNOWN}
    template_path = data.get("template_path")
    if not isinstance(template_path, str) or not _inside_project(root, template_path):
        if template_path is not None:
            existing.repairs.append(f"settings.json: invalid template_path {template_path!r}; reset to 'env'")
        template_path = "env"
    version = data.get("version")
    settings = Settings(
        app_name=name,
        namespace=namespace,
        stages=stages,
        default_vault=None,
        template_path=template_path,
        version=str(version) if isinstance(version, str) and re.fullmatch(r"\d+\.\d+", version) else "1.0",
        extra=extra,
        stages_key="envs" if "envs" in data and "stages" not in data else "stages",
    )
    vaults = dict(existing.vaults)
    added_local = False
    if not vaults:
        vaults["local"] = VaultConfig(slug="local", driver="local", name=registry.get("local").label)
        added_local = True
    default = data.get("default_vault")
    if not (isinstance(default, str) and default in vaults):
        if default:
            existing.repairs.append(f"settings.json: default vault {default!r} is not configured; replaced")
        default = "local" if "local" in vaults else sorted(vaults)[0]
    settings.default_vault = default
    settings.validate(str(root / KEEP_DIR / "settings.json"))

    keep_dir = root / KEEP_DIR
    if keep_dir.exists() and not keep_dir.is_dir():
        raise UsageError(f"{keep_dir} exists and is not a directory")
    backup_dir = _back_up(keep_dir, existing.backups)
    project = Project(root, settings, vaults, existing.workspace)
    project.ensure_dirs()
    _ensure_gitignore(keep_dir / ".gitignore")
    for slug, config in vaults.items():
        if (added_local and slug == "local") or slug in existing.rewrite_vaults:
            project.save_vault(config)
    project.save_settings()
    if existing.rewrite_workspace:
        project.workspace = Workspace()
        project.save_workspace()
    return InitResult(root, created, settings, added_local, existing.repairs, backup_dir)


def _back_up(keep_dir: Path, paths: list[Path]) -> Path | None:
    """Move the corrupt files `init` replaces under .keep/local/repaired/<time>/."""
    if not paths:
        return None
    backup_dir = keep_dir / "local" / "repaired" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup_dir.mkdir(parents=True, exist_ok=True)
    for path in paths:
        shutil.move(str(path), backup_dir / str(path.relative_to(keep_dir)).replace(os.sep, "__"))
    return backup_dir


def _ensure_gitignore(path: Path) -> None:
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        atomic_write(path, GITIGNORE)
        return
    if "local/" not in {line.strip() for line in current.splitlines()}:
        atomic_write(path, current + ("" if current.endswith("\n") or not current else "\n") + "local/\n")


def init_root(path: str | None) -> tuple[Path, bool]:
    """Where `init` works: `--path`, else the project this directory belongs to (so re-running
    `init` from a subdirectory updates it), else the current directory. Also: is it new?"""
    if path:
        root = Path(path).expanduser().resolve()
        if not root.is_dir():
            raise UsageError(f"--path {path}: not a directory")
    else:
        root = find_root() or Path.cwd().resolve()
    return root, not (root / KEEP_DIR / "settings.json").exists()


# -- stages -----------------------------------------------------------------------------------

def add_stage(project: Project, name: str) -> None:
    validate_stage_name(name)
    if name in project.settings.stages:
        raise Conflict(f"Stage '{name}' already exists; stages: {', '.join(project.settings.stages)}")
    project.add_stage(name)
    if project.workspace.stages and name not in project.workspace.stages:
        project.workspace.stages.append(name)
        project.save_workspace()


def check_removable_stage(project: Project, name: str) -> None:
    if name in SYSTEM_STAGES:
        raise UsageError(
            f"Stage '{name}' is a system stage and cannot be removed ({', '.join(SYSTEM_STAGES)} are protected)"
        )
    if name not in project.settings.stages:
        raise NotFound(f"Stage '{name}' is not configured; stages: {', '.join(project.settings.stages)}")
    if project.settings.stages == [name]:
        raise Conflict(f"Stage '{name}' is the only stage; a project needs at least one")


def remove_stage(project: Project, name: str) -> None:
    check_removable_stage(project, name)
    project.remove_stage(name)


def custom_stages(project: Project) -> list[str]:
    return [s for s in project.settings.stages if s not in SYSTEM_STAGES]


# -- workspace --------------------------------------------------------------------------------

def parse_choice_list(text: str, known: list[str], what: str) -> list[str]:
    """Comma-separated names that must all be configured (`*` or `all` = every one)."""
    chosen = split_list(text)
    if chosen in (["*"], ["all"]):
        return list(known)
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise UsageError(f"Unknown {what}: {', '.join(unknown)}; configured {what}: {', '.join(known)}")
    if not chosen:
        raise UsageError(f"Choose at least one of the configured {what}: {', '.join(known)}")
    # de-duplicated, in the order the user gave
    return list(dict.fromkeys(chosen))


def save_workspace(project: Project, vaults: list[str] | None, stages: list[str] | None) -> None:
    if vaults is not None:
        project.workspace.vaults = vaults
    if stages is not None:
        project.workspace.stages = stages
    project.save_workspace()


def reset_workspace(project: Project) -> None:
    project.workspace.vaults = []
    project.workspace.stages = []
    project.save_workspace()


# -- info -------------------------------------------------------------------------------------

def project_info(project: Project) -> dict[str, Any]:
    """The stable `info --format json` object."""
    from ..vaults.local import config_dir

    settings = project.settings
    visible_vaults = set(project.visible_vaults())
    vaults = []
    for slug in sorted(project.vaults):
        config = project.vaults[slug]
        entry: dict[str, Any] = {
            "slug": slug,
            "driver": config.driver,
            "name": config.name,
            "scope": config.scope,
            "default": slug == settings.default_vault,
            "in_workspace": slug in visible_vaults,
            "options": dict(config.options),
        }
        path = data_file(project, config)
        if path is not None:
            entry["path"] = str(path)
        vaults.append(entry)
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "executable": sys.argv[0],
        "root": str(project.root),
        "paths": {
            "settings": str(project.settings_path),
            "vaults": str(project.keep_dir / "vaults"),
            "workspace": str(project.workspace_path),
            # shown even when a hand-edited template_path points outside (commands that use
            # it refuse it)
            "templates": str(project.root / settings.template_path),
            "local_keys": str(config_dir() / "keys"),
        },
        "settings": {
            "app_name": settings.app_name,
            "namespace": settings.namespace,
            "stages": list(settings.stages),
            "default_vault": settings.default_vault,
            "template_path": settings.template_path,
            "version": settings.version,
        },
        "vaults": vaults,
        "stages": list(settings.stages),
        "default_vault": settings.default_vault,
        "problems": [p for p in (project.default_vault_problem(),) if p],
        "workspace": {
            "vaults": project.visible_vaults(),
            "stages": project.visible_stages(),
            "restricted": bool(project.workspace.vaults or project.workspace.stages),
        },
    }
