"""`keep refs`: references to a stage's secrets for deployment tools, built from listing calls
only - no value is ever read (SPEC §14). Each driver supplies :class:`Reference` objects
(`Vault.references`), each saying which formats can address it and how (`Reference.addresses`);
this module turns them into ECS `secrets` entries, CloudFormation dynamic references, an
External Secrets Operator manifest, or JSON. It names no driver.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..model import UsageError
from ..names import Patterns, is_env_var_name
from .fetch import overlap_warnings

if TYPE_CHECKING:
    from ..vaults.base import Reference, Vault

FORMATS = ("ecs", "cloudformation", "external-secrets", "json")
ESO_API_VERSION = "external-secrets.io/v1"
STORE_KINDS = ("SecretStore", "ClusterSecretStore")

_LABELS = {"ecs": "ECS task definitions", "cloudformation": "CloudFormation",
           "external-secrets": "External Secrets Operator"}


@dataclass
class Refs:
    references: list[Reference]
    vaults: list[str]
    warnings: list[str] = field(default_factory=list)


def collect(
    open_vault: Callable[[str], Vault], slugs: Sequence[str], stage: str, patterns: Patterns | None = None
) -> Refs:
    """The references of `stage` in `slugs`; a key in several vaults takes the last one's (as
    `export` merges), and the overlap is reported."""
    patterns = patterns or Patterns()
    chosen: dict[str, Reference] = {}
    warnings: list[str] = []
    wanted = list(dict.fromkeys(slugs))
    vaults = {slug: open_vault(slug) for slug in wanted}
    for slug, vault in vaults.items():  # refuse before any call when one vault cannot give references
        if not vault.capabilities.references:
            vault.references(stage)  # the driver's own clear error
            raise UsageError(f"Vault '{slug}' ({vault.driver} driver) gives no remote references")
    overlaps: list[tuple[str, str, str]] = []
    for slug in wanted:
        for ref in vaults[slug].references(stage):
            if not patterns.matches(ref.key):
                continue
            previous = chosen.get(ref.key)
            if previous is not None:
                overlaps.append((ref.key, previous.vault, slug))
            chosen[ref.key] = ref
    warnings.extend(overlap_warnings(overlaps))
    return Refs([chosen[k] for k in sorted(chosen)], wanted, warnings)


def _check_supported(refs: Sequence[Reference], format_name: str) -> None:
    """Each driver says which formats can address its references (`Reference.addresses`)."""
    if format_name not in _LABELS:
        return
    for ref in refs:
        if format_name not in ref.addresses:
            usable = [f for f in FORMATS if f in ref.addresses or f == "json"]
            raise UsageError(
                f"{_LABELS[format_name]} cannot reference secrets of vault '{ref.vault}' ({ref.service})",
                hint=f"formats for it: {', '.join(usable)}",
            )


def _ecs(refs: Sequence[Reference]) -> str:
    for ref in refs:
        if not is_env_var_name(ref.key):
            raise UsageError(
                f"Key {ref.key!r} is not an environment variable name, so it cannot be an ECS `secrets` entry",
                hint="leave it out with --except, or use --format json",
            )
    entries = [{"name": ref.key, "valueFrom": ref.addresses["ecs"]} for ref in refs]
    return json.dumps(entries, indent=2) + "\n"


def _cloudformation(refs: Sequence[Reference]) -> str:
    return json.dumps({ref.key: ref.addresses["cloudformation"] for ref in refs}, indent=2) + "\n"


def kubernetes_name(text: str) -> str:
    """A DNS-1123 name (lowercase letters, digits, '-'; at most 253 characters)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:253].rstrip("-") or "keep"


def _external_secret(
    refs: Sequence[Reference], *, name: str, store: str, store_kind: str, api_version: str, refresh: str
) -> str:
    import yaml

    data = []
    for ref in refs:
        remote: dict[str, str] = {"key": ref.addresses["external-secrets"]}
        if ref.extra.get("property"):
            remote["property"] = ref.extra["property"]
        data.append({"secretKey": ref.key, "remoteRef": remote})
    manifest = {
        "apiVersion": api_version,
        "kind": "ExternalSecret",
        "metadata": {"name": name},
        "spec": {
            "refreshInterval": refresh,
            "secretStoreRef": {"name": store, "kind": store_kind},
            "target": {"name": name, "creationPolicy": "Owner"},
            "data": data,
        },
    }
    text: str = yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return text


def _json(refs: Sequence[Reference]) -> str:
    rows = [
        {"key": r.key, "vault": r.vault, "stage": r.stage, "service": r.service, "name": r.name, "arn": r.arn,
         "secure": r.secure, **({"extra": dict(r.extra)} if r.extra else {})}
        for r in refs
    ]
    return json.dumps(rows, indent=2) + "\n"


def render(
    refs: Sequence[Reference],
    format_name: str,
    *,
    name: str = "keep",
    store: str | None = None,
    store_kind: str = "SecretStore",
    api_version: str = ESO_API_VERSION,
    refresh: str = "1h",
) -> str:
    if format_name not in FORMATS:
        raise UsageError(f"Unknown format '{format_name}' (use {', '.join(FORMATS)})")
    _check_supported(refs, format_name)
    if format_name == "ecs":
        return _ecs(refs)
    if format_name == "cloudformation":
        return _cloudformation(refs)
    if format_name == "external-secrets":
        if store_kind not in STORE_KINDS:
            raise UsageError(f"Unknown store kind '{store_kind}' (use {', '.join(STORE_KINDS)})")
        if not store:
            raise UsageError("--store is required with --format external-secrets: the SecretStore's name")
        services = {r.service for r in refs}
        if len(services) > 1:
            raise UsageError(
                "One ExternalSecret reads one store, but these secrets are in "
                + " and ".join(sorted(services)),
                hint="pick one vault with --vault",
            )
        return _external_secret(
            refs, name=kubernetes_name(name), store=store, store_kind=store_kind, api_version=api_version,
            refresh=refresh,
        )
    return _json(refs)
