"""One entry point for every export format: `export`, a template rendered in another format
(services/templating.py) and the web's export. (`show --format env` writes dotenv directly.)"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..model import Secret, UsageError
from .dotenv import check_env_keys, render_env
from .shell import render_shell
from .structured import Row, render_csv, render_docker, render_json, render_yaml

FORMATS = ("env", "shell", "json", "yaml", "csv", "docker")
#: formats made of independent lines, which can be appended to an existing file
LINE_FORMATS = ("env", "shell", "docker")


def to_rows(secrets: Iterable[Secret | Row | tuple[str, str]] | Mapping[str, str]) -> list[Row]:
    if isinstance(secrets, Mapping):
        return [Row(key, value) for key, value in secrets.items()]
    rows: list[Row] = []
    for item in secrets:
        if isinstance(item, Secret):
            rows.append(Row(item.key, item.value, item.vault, item.stage, item.modified))
        elif isinstance(item, Row):
            rows.append(item)
        else:
            key, value = item
            rows.append(Row(key, value))
    return rows


def render(format_name: str, secrets: Iterable[Secret | Row | tuple[str, str]] | Mapping[str, str]) -> str:
    """Render secrets (Secret objects, rows, (key, value) pairs or a mapping) in `format_name`."""
    rows = to_rows(secrets)
    pairs = [(row.key, row.value) for row in rows]
    if format_name in LINE_FORMATS:
        check_env_keys((row.key for row in rows), format_name)  # every bad key named at once
    if format_name == "env":
        return render_env(pairs)
    if format_name == "shell":
        return render_shell(pairs)
    if format_name == "json":
        return render_json(rows)
    if format_name == "yaml":
        return render_yaml(rows)
    if format_name == "csv":
        return render_csv(rows)
    if format_name == "docker":
        return render_docker(rows)
    raise UsageError(f"Unknown format '{format_name}' (use {', '.join(FORMATS)})")
