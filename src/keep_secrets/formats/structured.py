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


# YAML 1.1 readers treat these as line breaks, so a plain, single-quoted or block scalar
# holding them reads back changed: only double quotes (with escapes) keep them
_YAML_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


def render_yaml(rows: Iterable[Row]) -> str:
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = None
        if any(ch in value for ch in _YAML_BREAKS):
            style = '"'
        elif "\n" in value:
            style = "|"  # PEM blocks stay readable; the emitter falls back when a block cannot hold it
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    mapping = _mapping(rows)
    if not mapping:
        return "{}\n"
    # width=inf: PyYAML would otherwise fold long values across lines (still valid, but
    # harder to read and diff)
    text: str = yaml.dump(
        mapping, Dumper=_Dumper, default_flow_style=False, allow_unicode=True, sort_keys=False,
        width=float("inf"),
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
