"""Endpoints of the settings page: project info, vaults, stages, the personal workspace and
the permission probe. All changes go through `services.setup`, the code behind `keep
vault:*`, `stage:*` and `workspace`, which validates everything before it writes anything.

The namespace cannot be changed here: every existing secret lives under it, and renaming it
would silently orphan them (Keep's §12.5 #56).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from .. import __version__
from ..model import UsageError
from ..names import split_list
from ..project import SYSTEM_STAGES
from ..services import setup, vault_config
from ..vaults import registry
from .api import Call


def context(call: Call) -> dict[str, Any]:
    """What the page needs to draw itself: names, stages, vaults, the workspace."""
    project = call.project
    settings = project.settings
    initial_vault = call.defaults.get("vault") if call.defaults.get("vault") in project.vaults else None
    initial_stage = call.defaults.get("stage") if call.defaults.get("stage") in project.stages else None
    # `keep server --vault V --stage S` names what to show, also what the workspace hides
    visible_stages = project.visible_stages()
    if initial_stage is not None and initial_stage not in visible_stages:
        visible_stages = [s for s in project.stages if s in visible_stages or s == initial_stage]
    visible_vaults = project.visible_vaults()
    if initial_vault is not None and initial_vault not in visible_vaults:
        visible_vaults = [*visible_vaults, initial_vault]
    return {
        "version": __version__,
        "app_name": settings.app_name,
        "namespace": settings.namespace,
        "stages": project.stages,
        "visible_stages": visible_stages,
        "default_vault": settings.default_vault,
        "template_path": settings.template_path,
        "vaults": [
            {
                "slug": slug,
                "name": config.name,
                "driver": config.driver,
                "driver_label": registry.get(config.driver).label,
                "default": slug == settings.default_vault,
                "scope": config.scope,
                "options": dict(config.options),
            }
            for slug, config in sorted(project.vaults.items())
        ],
        "visible_vaults": visible_vaults,
        "system_stages": list(SYSTEM_STAGES),
        # the vault form is drawn from each driver's declared options (vaults/registry.py)
        "drivers": [declared.schema() for declared in registry.all_drivers()],
        "initial": {"vault": initial_vault, "stage": initial_stage},
    }


def info(call: Call) -> dict[str, Any]:
    return setup.project_info(call.project)


def update_settings(call: Call) -> dict[str, Any]:
    """`app_name`, `template_path` and `default_vault`; validated before saving."""
    project = call.project
    if call.raw("namespace") not in (None, project.settings.namespace):
        raise UsageError(
            "The namespace cannot be changed from the web UI: existing secrets live under it"
        )
    app_name = call.optional_text("app_name")
    template_path = call.optional_text("template_path")
    default_vault = call.optional_text("default_vault")
    if app_name is not None:
        project.settings.app_name = setup.validate_app_name(app_name)
    if template_path is not None:
        # the template editor lists, writes and deletes *.env files there: inside the project only
        project.settings.template_path = setup.validate_template_path(project, template_path)
    if default_vault is not None:
        project.check_vault(default_vault)
        project.settings.default_vault = default_vault
    project.save_settings()
    return context(call)


def _vault_options(call: Call, driver: str, base: dict[str, Any]) -> dict[str, Any]:
    """The driver's declared fields found in the body (a list may come as "a,b"; a number as
    a string; "" clears); build_vault checks the values."""
    options = dict(base)
    declared = {option.name: option for d in registry.all_drivers() for option in d.options}
    # the driver's own spec first; another driver's field is passed on so build_vault refuses it
    declared.update({option.name: option for option in registry.get(driver).options})
    for option in declared.values():
        value = call.raw(option.name)
        if value is None or option.secret:
            continue
        if isinstance(value, str):
            value = value.strip()
            if option.kind == "list":
                value = split_list(value)
            elif option.kind == "int" and value:
                if not value.isdigit():
                    raise UsageError(f"Field '{option.name}' must be a whole number")
                value = int(value)
        options[option.name] = value
    return options


def add_vault(call: Call) -> tuple[int, dict[str, Any]]:
    project = call.project
    driver = vault_config.validate_driver(call.text("driver", required=True))
    slug = call.optional_text("slug") or vault_config.free_slug(driver, set(project.vaults))
    name = call.optional_text("name") or registry.get(driver).label
    options = vault_config.initial_options(driver, _vault_options(call, driver, {}))
    config = vault_config.build_vault(driver, slug, name, options)
    became_default = vault_config.add_vault(project, config, call.flag("default"))
    return 201, {"slug": slug, "default": became_default, "context": context(call)}


def edit_vault(call: Call) -> dict[str, Any]:
    project = call.project
    slug = call.text("slug", required=True)
    old = project.check_vault(slug)
    new_slug = call.optional_text("new_slug") or slug
    name = call.optional_text("name") or old.name
    base = dict(old.options)
    base["scope"] = old.scope
    config = vault_config.build_vault(old.driver, new_slug, name, _vault_options(call, old.driver, base))
    notes = vault_config.update_vault(project, slug, config, call.flag("default"))
    return {"slug": new_slug, "notes": notes, "context": context(call)}


def delete_vault(call: Call) -> dict[str, Any]:
    slug = call.text("slug", required=True)
    vault_config.delete_vault(call.project, slug)
    return {"slug": slug, "deleted": True, "context": context(call)}


def add_stage(call: Call) -> tuple[int, dict[str, Any]]:
    name = call.text("name", required=True).strip()
    setup.add_stage(call.project, name)
    return 201, {"stage": name, "context": context(call)}


def remove_stage(call: Call) -> dict[str, Any]:
    name = call.text("name", required=True)
    setup.remove_stage(call.project, name)
    return {"stage": name, "removed": True, "context": context(call)}


def save_workspace(call: Call) -> dict[str, Any]:
    """Lists of vaults and stages to show; an empty list means "all of them"."""
    project = call.project
    vaults = call.names("vaults") or []
    stages = call.names("stages") or []
    for slug in vaults:
        project.check_vault(slug)
    for stage in stages:
        project.check_stage(stage)
    setup.save_workspace(project, list(dict.fromkeys(vaults)), list(dict.fromkeys(stages)))
    return context(call)


def verify(call: Call) -> dict[str, Any]:
    """Probe list/write/read/history/delete for each chosen vault x stage (concurrently),
    with a temporary key that is always purged: exactly `keep verify` (`read_only`: list,
    read and history only, nothing written)."""
    from ..services import verify as probe_service

    slugs, stages = probe_service.targets(call.project, call.names("vaults"), call.names("stages"))
    results = probe_service.probe_matrix(call.vault, slugs, stages, write=not call.flag("read_only"))
    return {
        "steps": list(probe_service.STEPS),
        "results": [probe_service.to_json(r) for r in results],
        "ok": not any(probe_service.failed(r) for r in results),
    }


def routes(make: Any) -> list[Route]:
    return [
        Route("/api/context", make(context), methods=["GET"]),
        Route("/api/info", make(info), methods=["GET"]),
        Route("/api/settings", make(update_settings), methods=["PUT"]),
        Route("/api/vaults", make(add_vault), methods=["POST"]),
        Route("/api/vaults", make(edit_vault), methods=["PUT"]),
        Route("/api/vaults", make(delete_vault), methods=["DELETE"]),
        Route("/api/stages", make(add_stage), methods=["POST"]),
        Route("/api/stages", make(remove_stage), methods=["DELETE"]),
        Route("/api/workspace", make(save_workspace), methods=["PUT"]),
        Route("/api/verify", make(verify), methods=["POST"]),
    ]
