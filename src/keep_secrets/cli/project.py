"""Project management commands: init, info, vault:*, stage:* (env:* aliases), workspace.

They parse options, ask on a terminal for what is missing, and call services/setup.py, which
validates everything before writing anything. All human output goes to stderr; `info`,
`vault:list` and a bare `workspace`/`vault:default` print their data on stdout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..model import Conflict, KeepError, NoVaultConfigured, UsageError
from ..names import split_list, validate_namespace, validate_slug, validate_stage_name
from ..services import setup, vault_config
from ..vaults import registry
from ..vaults.registry import Option
from .context import Ctx, keep_command

if TYPE_CHECKING:
    from ..project import VaultConfig

FORMATS = click.Choice(["table", "json"])


def _ask_valid(ctx: Ctx, label: str, default: str | None, check: Callable[[str], Any]) -> str:
    """Ask until the answer passes `check` (a terminal user gets another try, not an exit)."""
    while True:
        answer = ctx.ask(label, default=default).strip()
        try:
            check(answer)
        except UsageError as exc:
            ctx.warn(exc.one_line())
            continue
        return answer


# -- init -------------------------------------------------------------------------------------

@keep_command("init")
@click.option("--name", help="Application name (default: from pyproject/package.json, else the directory).")
@click.option("--namespace", help="Secret prefix, A-Z a-z 0-9 _ - (default: the name, slugified).")
@click.option("--stages", help="Comma-separated stages (default: local,staging,production).")
@click.option("--path", "target", help="Directory to initialise (default: this project's root, else here).")
def init_cmd(ctx: Ctx, name: str | None, namespace: str | None, stages: str | None, target: str | None) -> None:
    """Create or repair .keep/ (re-running keeps existing values; corrupt files are replaced)."""
    # every flag is checked before any prompt or write
    if name is not None:
        setup.validate_app_name(name)
    if namespace is not None:
        validate_namespace(namespace)
    stage_list = setup.parse_stages(stages) if stages is not None else None
    root, created = setup.init_root(target)
    existing = setup.read_existing(root)
    old_name, old_namespace, old_stages = setup.existing_values(existing)
    _refuse_guessing_the_namespace(ctx, existing, created, namespace, old_namespace)

    if ctx.interactive:
        ctx.msg("keep configuration" + ("" if created else f" (updating {root})"), fg="cyan")
        name, namespace, stage_list = _ask_init(ctx, root, existing, name, namespace, stage_list)
    final_name = name or old_name or setup.detect_app_name(root)
    final_namespace = namespace or old_namespace or setup.slugify(final_name)
    final_stages = stage_list or old_stages or list(setup.DEFAULT_STAGES)

    result = setup.init_project(existing, final_name, final_namespace, final_stages, created=created)
    remote = sorted(slug for slug, config in existing.vaults.items() if registry.get(config.driver).remote)
    if old_namespace and old_namespace != result.settings.namespace and remote:
        ctx.warn(
            f"namespace changed from '{old_namespace}' to '{result.settings.namespace}': secrets already "
            f"stored in remote vaults ({', '.join(remote)}) under the old namespace stay there and are no "
            "longer seen by keep"
        )
    _report_init(ctx, result, old_stages)
    if result.added_local_vault:
        ctx.msg("Added the embedded encrypted vault 'local' (driver local) as the default vault.")
    if result.created and ctx.interactive and ctx.confirm("Add an AWS vault now?", default=False):
        from ..project import Project

        ctx.set_project(Project.load_at(result.root))
        click.get_current_context().invoke(vault_add_cmd)
    elif result.created:
        ctx.msg("Next: `keep set MY_SECRET` to store a secret; `keep vault:add` to add an AWS vault.")


def _refuse_guessing_the_namespace(
    ctx: Ctx, existing: setup.Existing, created: bool, namespace: str | None, old_namespace: str | None
) -> None:
    """Repairing a settings.json whose namespace cannot be read, without a terminal: with a
    remote vault a namespace made up from the directory name would hide every stored secret
    (and the next `set` would write beside them), so it must be given."""
    if created or namespace is not None or old_namespace is not None or ctx.interactive:
        return
    remote = sorted(slug for slug, config in existing.vaults.items() if registry.get(config.driver).remote)
    if remote:
        raise UsageError(
            f"The namespace in {existing.root / '.keep' / 'settings.json'} cannot be read, and the secrets "
            f"of vault(s) {', '.join(remote)} are stored under it: pass --namespace NAME to repair the file",
            hint="`git show HEAD:.keep/settings.json` shows the committed one",
        )


def _ask_init(
    ctx: Ctx, root: Path, existing: setup.Existing, name: str | None, namespace: str | None,
    stage_list: list[str] | None,
) -> tuple[str, str, list[str]]:
    """On a terminal: ask for what no flag gave, defaulting to the existing values."""
    old_name, old_namespace, old_stages = setup.existing_values(existing)
    if name is None:
        name = _ask_valid(ctx, "Application name", old_name or setup.detect_app_name(root), setup.validate_app_name)
    if namespace is None:
        namespace = _ask_valid(
            ctx, "Namespace (prefix of every secret)", old_namespace or setup.slugify(name), validate_namespace
        )
    if stage_list is None:
        default = ",".join(old_stages or setup.DEFAULT_STAGES)
        stage_list = setup.parse_stages(_ask_valid(ctx, "Stages (comma-separated)", default, setup.parse_stages))
    return name, namespace, stage_list


def _report_init(ctx: Ctx, result: setup.InitResult, old_stages: list[str] | None) -> None:
    dropped = [s for s in old_stages or [] if s not in result.settings.stages]
    if dropped:
        ctx.msg(f"Stages removed from the project: {', '.join(dropped)} (their secrets are not deleted)")
    for repair in result.repairs:
        ctx.warn(f"repaired {repair}")
    if result.backup_dir is not None:
        ctx.msg(f"The replaced files were moved to {result.backup_dir}")
    verb = "Initialised" if result.created else "Updated"
    ctx.success(f"{verb} keep project in {result.root / '.keep'}")
    ctx.msg(f"  app name:  {result.settings.app_name}")
    ctx.msg(f"  namespace: {result.settings.namespace}")
    ctx.msg(f"  stages:    {', '.join(result.settings.stages)}")
    ctx.msg(f"  default vault: {result.settings.default_vault}")


# -- vaults -----------------------------------------------------------------------------------

def _declared_options() -> dict[str, tuple[Option, list[str]]]:
    """Every option any driver declares (first declaration wins), with the drivers declaring it."""
    found: dict[str, tuple[Option, list[str]]] = {}
    for declared in registry.all_drivers():
        for option in declared.options:
            if not option.secret:
                found.setdefault(option.name, (option, []))[1].append(declared.name)
    return found


def _vault_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--slug, --name, one flag per driver option (from the registry), --default, --no-verify."""
    options = [
        click.option("--slug", help="Vault slug (used in template placeholders)."),
        click.option("--name", help="Friendly name."),
    ]
    for name, (option, owners) in _declared_options().items():
        options.append(click.option(
            option.flag, name, type=int if option.kind == "int" else str, default=None,
            help=f"{option.help} ({', '.join(owners)}).",
        ))
    options += [
        click.option("--outside-project", "outside_project", is_flag=True,
                     help="Confirm a local vault --path outside this project (recorded in your workspace)."),
        click.option("--default", "make_default", is_flag=True, help="Make this the default vault."),
        click.option("--no-verify", is_flag=True, help="Skip the permission probe."),
    ]
    for decorator in reversed(options):
        func = decorator(func)
    return func


def _flag_options(flags: dict[str, Any]) -> dict[str, Any]:
    """Flags given on the command line, checked and as vault options (None = not given,
    "" = clear). Checked before anything is asked."""
    declared = _declared_options()
    given: dict[str, Any] = {}
    for name, raw in flags.items():
        if raw is None:
            continue
        option = declared[name][0]
        value = split_list(raw) if option.kind == "list" else raw
        if value not in ("", []):
            problem = option.problem(value, option.flag)
            if problem is not None:
                raise UsageError(problem[0].upper() + problem[1:])
            value = option.check(value)
        given[name] = value
    return given


def _check_applicable(driver: str, options: dict[str, Any]) -> None:
    for name in options:
        refusal = vault_config.not_applicable(driver, name, "--" + name.replace("_", "-"))
        if refusal is not None:
            raise UsageError(refusal)


def _prompt_driver_options(ctx: Ctx, driver: str, options: dict[str, Any], current: dict[str, Any]) -> None:
    """Ask, in the driver's declared order, for the fields with a prompt not given as flags.
    `current` holds the defaults (the vault's values when editing); `-` clears a field."""
    for option in registry.get(driver).options:
        if option.prompt is None or option.secret or option.name in options:
            continue
        default = current.get(option.name) or (option.initial() if option.initial else option.default)
        shown = ",".join(default) if isinstance(default, list) else ("" if default is None else str(default))
        while True:
            answer = ctx.ask(option.prompt, default=shown).strip()
            if answer == "-":
                options[option.name] = [] if option.kind == "list" else ""
                break
            value: Any = split_list(answer) if option.kind == "list" else answer
            if option.kind == "int" and answer:
                value = int(answer) if answer.isdigit() else answer
            problem = option.problem(value) if value not in ("", []) else None
            if problem is not None:
                ctx.warn(problem)
                continue
            options[option.name] = option.check(value) if value not in ("", []) else value
            break


def _probe(ctx: Ctx, slug: str) -> None:
    """Run the permission probe on the visible stages. A failing probe never undoes the vault
    change: it prints what is missing, and the command still exits 0."""
    from ..services import verify

    project = ctx.project
    stages = project.visible_stages()
    ctx.msg(f"Checking permissions of vault '{slug}' on stages {', '.join(stages)}...")
    try:
        results = verify.probe_matrix(ctx.vault, [slug], stages)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the vault is saved; a probe crash must not turn into a failure
        message = exc.one_line() if isinstance(exc, KeepError) else f"{type(exc).__name__}: {exc}"
        ctx.warn(f"permission probe failed: {message}")
        ctx.warn(f"vault '{slug}' was saved; fix access, then run `keep verify --vault {slug}`")
        return
    if results:
        # a side report of vault:add/edit, not its data: stderr, and silenced by --quiet
        ctx.msg(verify.render_matrix(results))
    if any(result.unreachable for result in results):
        ctx.warn(
            f"vault '{slug}' was saved, but its store cannot be reached, so its permissions are unchecked; "
            f"check the network, the region and the endpoint, then run `keep verify --vault {slug}`"
        )
    elif any(verify.failed(result) for result in results):
        ctx.warn(
            f"vault '{slug}' was saved, but some permissions are missing; "
            f"`keep iam --vault {slug}` prints the policy, `keep verify --vault {slug}` re-checks"
        )


@keep_command("vault:add")
@click.option("--driver", help=f"One of: {', '.join(registry.names())}.")
@_vault_options
def vault_add_cmd(
    ctx: Ctx,
    driver: str | None,
    slug: str | None,
    name: str | None,
    no_verify: bool,
    make_default: bool,
    **flags: Any,
) -> None:
    """Add a vault (asks Driver, Slug, Friendly Name, AWS Region, KMS Key ID on a terminal).

    After saving it probes list/read/write/delete/history on each stage (unless --no-verify);
    missing permissions are reported as warnings and the vault stays added (exit 0).
    """
    project = ctx.project
    taken = set(project.vaults)
    outside = bool(flags.pop("outside_project", False))
    # flags are validated before anything is asked
    options = _flag_options(flags)
    if driver is not None:
        vault_config.validate_driver(driver)
        _check_applicable(driver, options)
    if slug is not None:
        validate_slug(slug)
        if slug in taken:
            raise Conflict(f"A vault with slug '{slug}' already exists")

    if driver is None:
        if not ctx.interactive:
            raise UsageError(f"--driver is required (choices: {', '.join(registry.names())})")
        for known in registry.all_drivers():
            ctx.msg(f"  {known.name:<15} {known.label}")
        driver = ctx.select("Driver", registry.names(), default="local")
        _check_applicable(driver, options)
    if slug is None:
        default_slug = vault_config.free_slug(driver, taken)

        def check_slug(answer: str) -> None:
            validate_slug(answer)
            if answer in taken:
                raise UsageError(f"A vault with slug '{answer}' already exists")

        slug = _ask_valid(ctx, "Slug", default_slug, check_slug) if ctx.interactive else default_slug
    label = registry.get(driver).label
    if name is None:
        name = _ask_valid(ctx, "Friendly Name", label, vault_config.validate_vault_name) if ctx.interactive else label
    if ctx.interactive:
        _prompt_driver_options(ctx, driver, options, {})
    else:
        options = vault_config.initial_options(driver, options)

    config = vault_config.build_vault(driver, slug, name, options)
    vault_config.confirm_location(project, config, outside)
    became_default = vault_config.add_vault(project, config, make_default)
    ctx.success(f"Vault '{config.slug}' ({label}) added: {project.vault_path(config.slug)}")
    if became_default:
        ctx.msg(f"'{config.slug}' is now the default vault.")
    if not no_verify:
        _probe(ctx, config.slug)


def _vault_slug(ctx: Ctx, slug: str | None, question: str) -> str:
    """The vault argument, else --vault, else a select on a terminal, else exit 2."""
    project = ctx.project
    chosen = slug or ctx.vault_option
    if chosen:
        project.check_vault(chosen)
        return chosen
    if not project.vaults:
        raise NoVaultConfigured()
    if not ctx.interactive:
        raise UsageError(f"Which vault? Pass its slug (configured vaults: {', '.join(sorted(project.vaults))})")
    return ctx.select(question, sorted(project.vaults), default=project.settings.default_vault)


def _ask_edits(
    ctx: Ctx, old: VaultConfig, slug: str | None, name: str | None, options: dict[str, Any], current: dict[str, Any]
) -> tuple[str, str]:
    """vault:edit on a terminal: the slug and name not given as flags, then the driver's
    options (answers go into `options`)."""
    project = ctx.project
    ctx.msg(f"Editing vault {old.name} ({old.slug}, driver {old.driver})")
    if slug is None:

        def check_slug(answer: str) -> None:
            validate_slug(answer)
            if answer != old.slug and answer in project.vaults:
                raise UsageError(f"A vault with slug '{answer}' already exists")

        slug = _ask_valid(ctx, "Slug", old.slug, check_slug)
    if name is None:
        name = _ask_valid(ctx, "Friendly Name", old.name, vault_config.validate_vault_name)
    _prompt_driver_options(ctx, old.driver, options, current)
    return slug, name


@keep_command("vault:edit")
@click.argument("vault_slug", required=False, metavar="[SLUG]")
@click.option("--driver", help="Must match the vault's driver (drivers cannot change).")
@_vault_options
def vault_edit_cmd(
    ctx: Ctx,
    vault_slug: str | None,
    driver: str | None,
    slug: str | None,
    name: str | None,
    no_verify: bool,
    make_default: bool,
    **flags: Any,
) -> None:
    """Edit a vault's configuration (--slug renames it). Remote secrets are never touched.
    An empty flag value (--key "") clears that field; on a terminal, answer `-` to clear."""
    project = ctx.project
    old_slug = _vault_slug(ctx, vault_slug, "Vault to edit")
    old = project.vaults[old_slug]
    if driver is not None and driver != old.driver:
        vault_config.validate_driver(driver)
        raise UsageError(f"The driver of vault '{old_slug}' is {old.driver} and cannot change; add a new vault")
    outside = bool(flags.pop("outside_project", False))
    options = _flag_options(flags)
    _check_applicable(old.driver, options)
    if slug is not None:
        validate_slug(slug)
        if slug != old_slug and slug in project.vaults:
            raise Conflict(f"A vault with slug '{slug}' already exists")
    current = dict(old.options)
    current["scope"] = old.scope

    if ctx.interactive:
        slug, name = _ask_edits(ctx, old, slug, name, options, current)

    merged = dict(current)
    merged.update(options)
    config = vault_config.build_vault(old.driver, slug or old_slug, name or old.name, merged)
    vault_config.confirm_location(project, config, outside, renamed_from=old_slug)
    if config.to_dict() == old.to_dict() and not (make_default and project.settings.default_vault != old_slug):
        ctx.msg(f"Vault '{old_slug}' unchanged.")
        return
    notes = vault_config.update_vault(project, old_slug, config, make_default)
    for note in notes:
        ctx.msg(note)
    if config.slug != old_slug:
        ctx.success(f"Vault '{old_slug}' renamed to '{config.slug}' and updated")
    else:
        ctx.success(f"Vault '{config.slug}' configuration updated")
    declared = registry.get(config.driver)
    connection = [option.name for option in declared.options if option.reprobe]
    changed = any(merged.get(k) != current.get(k) for k in connection) or config.slug != old_slug
    if not no_verify and changed and declared.remote:
        ctx.set_project(project)
        _probe(ctx, config.slug)


@keep_command("vault:list")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Include vaults hidden by your workspace.")
def vault_list_cmd(ctx: Ctx, fmt: str, show_all: bool) -> None:
    """List the configured vaults (the default one marked)."""
    project = ctx.project
    slugs = sorted(project.vaults) if show_all else project.visible_vaults()
    default = project.settings.default_vault
    if fmt == "json":
        rows = []
        for slug in slugs:
            config = project.vaults[slug]
            rows.append({**config.to_dict(), "default": slug == default})
        ctx.out(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not slugs:
        ctx.msg("No vaults are configured yet. Add your first vault with: keep vault:add")
        return
    from ..formats.table import render_table

    table = [
        (slug, project.vaults[slug].name, project.vaults[slug].driver, "✓" if slug == default else "")
        for slug in slugs
    ]
    ctx.out(render_table(["Slug", "Name", "Driver", "Default"], table))
    hidden = len(project.vaults) - len(slugs)
    if hidden:
        ctx.msg(f"{hidden} vault(s) hidden by your workspace (`keep vault:list --all` shows them)")


@keep_command("vault:delete")
@click.argument("vault_slug", required=False, metavar="[SLUG]")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
def vault_delete_cmd(ctx: Ctx, vault_slug: str | None, force: bool) -> None:
    """Remove a vault's configuration file. Remote secrets and local data are not touched."""
    project = ctx.project
    slug = _vault_slug(ctx, vault_slug, "Vault to delete")
    config = project.vaults[slug]
    vault_config.check_vault_deletable(project, slug)
    if not force and ctx.interactive:
        ctx.msg(f"Vault to be deleted: {slug} ({config.name}, driver {config.driver})")
    if not force and not ctx.confirm(
        f"Delete the configuration of vault '{slug}'? Secrets stored in it are not deleted", default=False
    ):
        ctx.msg("Vault deletion cancelled.")
        return
    vault_config.delete_vault(project, slug)
    ctx.success(f"Vault '{slug}' configuration deleted ({project.vault_path(slug)})")
    data = vault_config.data_file(project, config)
    if data is not None and data.exists():
        ctx.msg(f"Its data file {data} was kept; delete it yourself to destroy those secrets.")


@keep_command("vault:default")
@click.argument("vault_slug", required=False, metavar="[SLUG]")
def vault_default_cmd(ctx: Ctx, vault_slug: str | None) -> None:
    """Set the default vault; without SLUG (and no terminal) print the current one."""
    project = ctx.project
    if vault_slug is None and not ctx.vault_option and not ctx.interactive:
        ctx.out(project.settings.default_vault or "")
        return
    slug = _vault_slug(ctx, vault_slug, "Default vault")
    if vault_config.set_default_vault(project, slug):
        ctx.success(f"'{slug}' is now the default vault")
    else:
        ctx.msg(f"'{slug}' already is the default vault.")


# -- stages -----------------------------------------------------------------------------------

@keep_command("stage:add")
@click.argument("name", required=False)
def stage_add_cmd(ctx: Ctx, name: str | None) -> None:
    """Add a stage (alias env:add)."""
    project = ctx.project
    if name is None:
        if not ctx.interactive:
            raise UsageError("The stage name is required: keep stage:add NAME")

        def check(answer: str) -> None:
            validate_stage_name(answer)
            if answer in project.settings.stages:
                raise UsageError(f"Stage '{answer}' already exists")

        name = _ask_valid(ctx, "New stage name", None, check)
    setup.add_stage(project, name)
    ctx.success(f"Stage '{name}' added; stages: {', '.join(project.settings.stages)}")
    ctx.msg(f"Use it with --stage={name}; `keep verify --stage {name}` checks vault access.")


@keep_command("stage:remove")
@click.argument("name", required=False)
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
def stage_remove_cmd(ctx: Ctx, name: str | None, force: bool) -> None:
    """Remove a stage (alias env:remove). local, staging and production are protected.
    Secrets stored under the stage are not deleted."""
    project = ctx.project
    if name is None:
        removable = setup.custom_stages(project)
        if not removable:
            ctx.msg("No custom stages to remove (local, staging and production cannot be removed).")
            return
        if not ctx.interactive:
            raise UsageError(f"The stage name is required (removable stages: {', '.join(removable)})")
        name = ctx.select("Stage to remove", removable)
    setup.check_removable_stage(project, name)
    if not force and not ctx.confirm(
        f"Remove stage '{name}'? Secrets stored under it are not deleted", default=False
    ):
        ctx.msg("Stage removal cancelled.")
        return
    setup.remove_stage(project, name)
    ctx.success(f"Stage '{name}' removed; stages: {', '.join(project.settings.stages)}")


# -- workspace --------------------------------------------------------------------------------

@keep_command("workspace")
@click.option("--vaults", "vault_list", help="Comma-separated vaults to show (`*` = all).")
@click.option("--stages", "stage_list", help="Comma-separated stages to show (`*` = all).")
@click.option("--reset", is_flag=True, help="Show every vault and stage again.")
def workspace_cmd(ctx: Ctx, vault_list: str | None, stage_list: str | None, reset: bool) -> None:
    """Choose which vaults and stages you see (personal: .keep/local/workspace.json).
    Without options and without a terminal, print the current workspace."""
    project = ctx.project
    if reset and (vault_list is not None or stage_list is not None):
        raise UsageError("--reset cannot be combined with --vaults/--stages")
    if not project.vaults:
        raise NoVaultConfigured()
    all_vaults = sorted(project.vaults)
    if reset:
        setup.reset_workspace(project)
        ctx.success("Workspace reset: every vault and stage is shown")
        return
    vaults = setup.parse_choice_list(vault_list, all_vaults, "vaults") if vault_list is not None else None
    stages = (
        setup.parse_choice_list(stage_list, project.stages, "stages") if stage_list is not None else None
    )
    if vaults is None and stages is None:
        if not ctx.interactive:
            ctx.out(f"vaults: {', '.join(project.visible_vaults())}")
            ctx.out(f"stages: {', '.join(project.visible_stages())}")
            return
        answer = _ask_valid(
            ctx,
            f"Vaults to show ({', '.join(all_vaults)}; * = all)",
            ",".join(project.visible_vaults()),
            lambda text: setup.parse_choice_list(text, all_vaults, "vaults"),
        )
        vaults = setup.parse_choice_list(answer, all_vaults, "vaults")
        answer = _ask_valid(
            ctx,
            f"Stages to show ({', '.join(project.stages)}; * = all)",
            ",".join(project.visible_stages()),
            lambda text: setup.parse_choice_list(text, project.stages, "stages"),
        )
        stages = setup.parse_choice_list(answer, project.stages, "stages")
    setup.save_workspace(project, vaults, stages)
    ctx.success("Workspace saved")
    ctx.msg(f"  vaults: {', '.join(project.visible_vaults())}")
    ctx.msg(f"  stages: {', '.join(project.visible_stages())}")


# -- info -------------------------------------------------------------------------------------

@keep_command("info")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def info_cmd(ctx: Ctx, fmt: str) -> None:
    """Version, paths, settings, vaults, stages and your workspace."""
    info = setup.project_info(ctx.project)
    if fmt == "json":
        ctx.out(json.dumps(info, indent=2, ensure_ascii=False))
        return
    from ..formats.table import render_table

    settings = info["settings"]
    paths = info["paths"]
    rows: list[tuple[str, object]] = [
        ("Version", info["version"]),
        ("Python", info["python"]),
        ("Project root", info["root"]),
        ("Settings file", paths["settings"]),
        ("Vault configs", paths["vaults"]),
        ("Workspace file", paths["workspace"]),
        ("Templates", paths["templates"]),
        ("Local vault keys", paths["local_keys"]),
        ("App name", settings["app_name"]),
        ("Namespace", settings["namespace"]),
        ("Stages", ", ".join(settings["stages"])),
        ("Default vault", settings["default_vault"] or "none"),
    ]
    if info["problems"]:
        rows[-1] = ("Default vault", f"{settings['default_vault']} (NOT CONFIGURED)")
        for problem in info["problems"]:
            ctx.warn(f"configuration error: {problem}")
    workspace = info["workspace"]
    if workspace["restricted"]:
        rows.append(("Workspace", f"vaults {', '.join(workspace['vaults'])}; stages {', '.join(workspace['stages'])}"))
    else:
        rows.append(("Workspace", "all vaults and stages"))
    ctx.out(render_table(["Property", "Value"], rows, max_cell=200))
    ctx.out()
    if not info["vaults"]:
        ctx.out("No vaults configured (add one with `keep vault:add`)")
        return
    vault_rows = []
    for vault in info["vaults"]:
        where = vault.get("path") or _reached_at(vault)
        slug = vault["slug"] + (" (default)" if vault["default"] else "")
        vault_rows.append((slug, vault["name"], vault["driver"], where))
    ctx.out(render_table(["Vault", "Name", "Driver", "Location"], vault_rows, max_cell=200))


def _reached_at(vault: dict[str, Any]) -> str:
    """The first option set that says where the store is reached (declared `reprobe`: the
    region of an AWS vault, the address of a server)."""
    options = vault["options"]
    declared = registry.get(vault["driver"]).options
    return next((str(options[o.name]) for o in declared if o.reprobe and options.get(o.name)), "")
