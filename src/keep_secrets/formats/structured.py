"""The mapping-shaped output formats: json (object), yaml (mapping), csv (RFC 4180 rows of
`key,value,vault,stage,modified`) and docker (`--env-file`: `KEY=value`, nothing quoted)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from ..model import UsageError, iso
from .dotenv import check_env_key

CSV_HEADER = ("key", "value", "vault", "stage", "modified")


class Row(NamedTuple):
    """One exported entry; template statics have no vault or modification time."""

    key: str
    value: str
    vault: str = ""
    stage: str = ""
    modified: datetime | None = None


def _mapping(rows: Iterable[Row]) -> dict[str, str]:
    return {row.key: row.value for row in rows}


def render_json(rows: Iterable[Row]) -> str:
    return json.dumps(_mapping(rows), indent=2, ensure_ascii=False) + "\n"


def render_yaml(rows: Iterable[Row]) -> str:
    import yaml

    mapping = _mapping(rows)
    if not mapping:
        return "{}\n"
    # width=inf: PyYAML would otherwise fold long values across lines (still valid, but
    # harder to read and diff)
    text: str = yaml.safe_dump(
        mapping, default_flow_style=False, allow_unicode=True, sort_keys=False, width=float("inf")
    )
    return text


def render_csv(rows: Iterable[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow((row.key, row.value, row.vault, row.stage, iso(row.modified) or ""))
    return buffer.getvalue()


def render_docker_line(key: str, value: str) -> str:
    check_env_key(key, "docker")
    # the --env-file format has no quoting or escapes: a line break would end the value and
    # the rest would be read as another line, so refuse rather than write it wrong
    for char, name in (("\n", "a newline"), ("\r", "a carriage return"), ("\0", "a NUL character")):
        if char in value:
            raise UsageError(
                f"The value of {key} contains {name}, which docker's --env-file format cannot represent",
                hint="export it as env, shell, json or yaml instead, or leave it out with --except",
            )
    return f"{key}={value}"


def render_docker(rows: Sequence[Row]) -> str:
    return "".join(render_docker_line(row.key, row.value) + "\n" for row in rows)
