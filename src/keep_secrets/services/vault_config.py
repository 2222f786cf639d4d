"""Vault configurations behind `vault:add/edit/delete/default`: turning flags and answers
into a validated VaultConfig, and saving, renaming and removing them without ever losing one.

Remote secrets are never touched here: these operations change `.keep/vaults/*.json` (and
move a local vault's data file when its location follows the slug).
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

from ..model import Conflict, UsageError
from ..names import validate_friendly_name, validate_slug
from ..project import Project, VaultConfig
from ..vaults import registry


def free_slug(driver: str, taken: set[str]) -> str:
    """The driver name if unused, else driver2, driver3, ..."""
    if driver not in taken:
        return driver
    n = 2
    while f"{driver}{n}" in taken:
        n += 1
    return f"{driver}{n}"


def validate_driver(driver: str) -> str:
    if not registry.is_known(driver):
        raise UsageError(f"Unknown vault driver {driver!r}; known drivers: {', '.join(registry.names())}")
    return driver


def option_owners() -> dict[str, list[str]]:
    """Option name -> the drivers that declare it (for "does not apply" messages)."""
    owners: dict[str, list[str]] = {}
    for declared in registry.all_drivers():
        for option in declared.options:
            owners.setdefault(option.name, []).append(declared.name)
    return owners


def not_applicable(driver: str, option: str, label: str | None = None) -> str | None:
    """The refusal of an option another driver declares, None when `driver` declares it (or
    nobody does: a field of a newer keep is carried through)."""
    if registry.get(driver).option(option) is not None:
        return None
    owners = option_owners().get(option)
    if not owners:
        return None
    return f"{label or option} does not apply to the {driver} driver (only {', '.join(owners)})"


def initial_options(driver: str, given: dict[str, Any]) -> dict[str, Any]:
    """`given` plus the values a new vault gets when they are not given (e.g. the region from
    AWS_REGION), so the file says what the vault uses."""
    options = dict(given)
    for option in registry.get(driver).options:
        if option.initial is not None and not options.get(option.name):
            options[option.name] = option.initial()
    return options


def validate_vault_name(name: str) -> str:
    """A vault's friendly name: the rule of the app name."""
    return validate_friendly_name(name, "vault")


def build_vault(driver: str, slug: str, name: str, options: dict[str, Any]) -> VaultConfig:
    """A validated VaultConfig from already-parsed values. Options that do not apply to the
    driver are refused (a tier on a Secrets Manager vault is a mistake, not a no-op)."""
    validate_driver(driver)
    declared = registry.get(driver)
    validate_slug(slug)
    validate_vault_name(name)
    clean: dict[str, Any] = {}
    for option, value in options.items():
        if value is None or value == "" or value == []:
            continue
        refusal = not_applicable(driver, option)
        if refusal is not None:
            raise UsageError(refusal[0].upper() + refusal[1:])
        spec = declared.option(option)
        if spec is None:
            # a field written by a newer keep (or by hand) is carried through untouched
            clean[option] = value
            continue
        if spec.secret:
            raise UsageError(f"{option} is a credential and is never stored in .keep/ (use {', '.join(spec.env)})")
        problem = spec.problem(value)
        if problem is not None:
            raise UsageError(problem[0].upper() + problem[1:])
        clean[option] = spec.check(value)
    scope = str(clean.pop("scope", "")).strip("/")
    config = VaultConfig(slug=slug, driver=driver, name=name, scope=scope, options=clean)
    try:
        config.validate("vault")
    except UsageError as exc:
        raise UsageError(exc.message.removeprefix("vault: ")) from None
    return config


def add_vault(project: Project, config: VaultConfig, make_default: bool) -> bool:
    """Save a new vault; returns True when it became the default vault."""
    if config.slug in project.vaults or project.vault_path(config.slug).exists():
        raise Conflict(f"A vault with slug '{config.slug}' already exists")
    _require_confirmed(project, config)
    becomes_default = make_default or not (
        project.settings.default_vault and project.settings.default_vault in project.vaults
    )
    project.save_vault(config)
    if becomes_default:
        project.settings.default_vault = config.slug
        project.save_settings()
    if project.workspace.vaults and config.slug not in project.workspace.vaults:
        # a restricted workspace would hide the vault the user just added
        project.workspace.vaults.append(config.slug)
        project.save_workspace()
    return becomes_default


def data_file(project: Project, config: VaultConfig) -> Path | None:
    """The file holding the vault's data on this machine, for drivers that keep one."""
    locate = registry.get(config.driver).data_file
    return None if locate is None else locate(project.root, config)


OUTSIDE_PATHS = "outside_paths"


def outside_project(project: Project, config: VaultConfig) -> Path | None:
    """The resolved data file of a vault that keeps one (local) when it lies outside the
    project, else None."""
    located = data_file(project, config)
    if located is None:
        return None
    path = located.resolve()
    return None if path.is_relative_to(project.root.resolve()) else path


def _outside_paths(project: Project) -> dict[str, Any]:
    paths = project.workspace.extra.get(OUTSIDE_PATHS)
    return dict(paths) if isinstance(paths, dict) else {}


def confirm_location(project: Project, config: VaultConfig, confirmed: bool, renamed_from: str | None = None) -> None:
    """A local vault path outside the project needs the user's confirmation (`confirmed`),
    which is recorded in their own workspace file (never committed): a vault file from the
    repository alone cannot point keep at another project's database. A vault being renamed
    (`renamed_from`) keeps the confirmation its old slug had for the same path."""
    path = outside_project(project, config)
    if path is None:
        return
    paths = _outside_paths(project)
    if not confirmed and not (renamed_from is not None and paths.get(renamed_from) == str(path)):
        raise UsageError(
            f"Vault '{config.slug}': path {path} is outside this project",
            hint="add --outside-project to confirm that this project's local secrets live there",
        )
    if paths.get(config.slug) != str(path):
        paths[config.slug] = str(path)
        project.workspace.extra[OUTSIDE_PATHS] = paths
        project.save_workspace()


def _require_confirmed(project: Project, config: VaultConfig, old_slug: str | None = None) -> None:
    """A vault saved with a data file outside the project must have that path confirmed (the
    CLI records it first, see confirm_location; a renamed vault keeps its old slug's): the web
    UI, which cannot confirm, never saves a vault keep would then refuse to open, nor moves a
    database out of the project."""
    path = outside_project(project, config)
    if path is None:
        return
    paths = _outside_paths(project)
    if str(path) in (paths.get(config.slug), paths.get(old_slug or config.slug)):
        return
    raise UsageError(
        f"Vault '{config.slug}': path {path} is outside this project",
        hint=f"confirm it on the command line: keep vault:add or vault:edit with --path {path} --outside-project",
    )


def update_vault(project: Project, old_slug: str, config: VaultConfig, make_default: bool) -> list[str]:
    """Replace vault `old_slug` by `config` (possibly renamed). The new file is written before
    the old one is removed, so a failure never loses the vault. Returns notes for the user."""
    notes: list[str] = []
    old = project.check_vault(old_slug)
    if config.driver != old.driver:
        raise UsageError(f"The driver of a vault cannot change ({old.driver}); add a new vault instead")
    renamed = config.slug != old_slug
    move_db: tuple[Path, Path] | None = None
    # the data file follows the vault: its default location is named after the slug
    old_db, new_db = data_file(project, old), data_file(project, config)
    if old_db is not None and new_db is not None and old_db != new_db and old_db.exists():
        if new_db.exists():
            raise Conflict(f"Cannot move the vault data to {new_db}: the file exists")
        move_db = (old_db, new_db)
    if renamed:
        if config.slug in project.vaults or project.vault_path(config.slug).exists():
            raise Conflict(f"A vault with slug '{config.slug}' already exists")
        note = registry.get(config.driver).rename_note
        if note:
            notes.append(note.format(old=old_slug, new=config.slug))
    _require_confirmed(project, config, old_slug)
    config.validate(str(project.vault_path(config.slug)))
    moved: list[tuple[str, str]] = []
    try:
        if move_db is not None:
            for suffix in ("", "-wal", "-shm"):
                source = Path(str(move_db[0]) + suffix)
                if source.exists():
                    Path(move_db[1]).parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(str(source), str(move_db[1]) + suffix)
                    moved.append((str(source), str(move_db[1]) + suffix))
            notes.append(f"moved the vault data {move_db[0]} -> {move_db[1]}")
        project.save_vault(config)
    except BaseException:
        # the old vault file still names the old location: the data goes back there
        for source_name, target_name in reversed(moved):
            with contextlib.suppress(OSError):
                shutil.move(target_name, source_name)
        raise
    settings_changed = False
    if renamed:
        if project.settings.default_vault == old_slug:
            project.settings.default_vault = config.slug
            settings_changed = True
        project.delete_vault(old_slug)
        if old_slug in project.workspace.vaults:
            project.workspace.vaults[project.workspace.vaults.index(old_slug)] = config.slug
            project.save_workspace()
        _forget_location(project, old_slug, renamed_to=config)
    if make_default and project.settings.default_vault != config.slug:
        project.settings.default_vault = config.slug
        settings_changed = True
    if settings_changed:
        project.save_settings()
    return notes


def _forget_location(project: Project, slug: str, renamed_to: VaultConfig | None = None) -> None:
    """Drop a removed slug's confirmed outside path: a vault file committed later under that
    slug must be confirmed again. A vault renamed to `renamed_to` with the same path keeps the
    confirmation under its new slug (the web UI renames without --outside-project)."""
    paths = _outside_paths(project)
    if slug not in paths:
        return
    confirmed = paths.pop(slug)
    if renamed_to is not None:
        path = outside_project(project, renamed_to)
        if path is not None and str(path) == confirmed:
            paths[renamed_to.slug] = confirmed
    project.workspace.extra[OUTSIDE_PATHS] = paths
    project.save_workspace()


def delete_vault(project: Project, slug: str) -> None:
    check_vault_deletable(project, slug)
    project.delete_vault(slug)
    if slug in project.workspace.vaults:
        project.workspace.vaults.remove(slug)
        project.save_workspace()
    _forget_location(project, slug)


def check_vault_deletable(project: Project, slug: str) -> None:
    project.check_vault(slug)
    if project.settings.default_vault == slug:
        others = sorted(s for s in project.vaults if s != slug)
        if others:
            raise Conflict(f"Cannot delete the default vault '{slug}'", fix=("vault:default", others[0]))
        raise Conflict(f"Cannot delete the default vault '{slug}'", hint="it is the only vault")


def set_default_vault(project: Project, slug: str) -> bool:
    """Returns False when it already was the default."""
    project.check_vault(slug)
    if project.settings.default_vault == slug:
        return False
    project.settings.default_vault = slug
    project.save_settings()
    return True
