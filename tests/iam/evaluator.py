"""A small IAM identity-policy evaluator for the test suite (never shipped).

It answers "would AWS allow this call under this policy?" for the subset of the IAM policy
language that keep's documented and generated policies use:

* `Effect` Allow/Deny; an explicit Deny wins over any Allow, and no matching Allow is an
  implicit deny (AWS's order for identity policies without boundaries or SCPs).
* `Action`/`NotAction` and `Resource`/`NotResource`, each a string or a list, with `*` and
  `?` wildcards. Actions compare case-insensitively; resources case-sensitively and segment
  by segment (a wildcard never spans the ARN's first five `:` separators).
* `Condition` blocks: operators are ANDed, keys inside one operator are ANDed, the values of
  one key are ORed. Operators: `StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`,
  `StringNotEqualsIgnoreCase`, `StringLike`, `StringNotLike`, `ArnEquals`, `ArnLike`,
  `ArnNotEquals`, `ArnNotLike`, `Bool`, `Null`, with the `ForAllValues:`/`ForAnyValue:`
  set prefixes and the `IfExists` suffix. Condition key names compare case-insensitively.

The request context maps condition keys (`aws:RequestTag/Namespace`,
`secretsmanager:ResourceTag/Stage`, `aws:TagKeys`, `kms:ViaService`, ...) to a string
(single-valued key) or a list of strings (multi-valued key). A key that is absent is absent:
it is never treated as an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

ContextValue = str | Sequence[str]
Context = Mapping[str, ContextValue]

ALLOW = "Allow"
EXPLICIT_DENY = "ExplicitDeny"
IMPLICIT_DENY = "ImplicitDeny"

_STRING_OPERATORS = {
    "stringequals",
    "stringnotequals",
    "stringequalsignorecase",
    "stringnotequalsignorecase",
    "stringlike",
    "stringnotlike",
    "arnequals",
    "arnlike",
    "arnnotequals",
    "arnnotlike",
}
_NEGATED = {"stringnotequals", "stringnotequalsignorecase", "stringnotlike", "arnnotequals", "arnnotlike"}


class PolicyError(ValueError):
    """The policy uses something this evaluator does not understand (never silently allowed)."""


@dataclass(frozen=True)
class Decision:
    """The outcome of one evaluation, with the statements that decided it (by Sid or index)."""

    effect: str
    matched: tuple[str, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        return self.effect == ALLOW

    def __bool__(self) -> bool:
        return self.allowed


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for ch in pattern:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcard match: `*` any run of characters (also none), `?` exactly one."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    return glob_match(pattern, action, ignore_case=True)


def resource_matches(pattern: str, resource: str) -> bool:
    """ARN match, wildcards confined to their segment (`arn:partition:service:region:account:resource`)."""
    if pattern == "*":
        return True
    if not pattern.startswith("arn:") or not resource.startswith("arn:"):
        return glob_match(pattern, resource)
    want = pattern.split(":", 5)
    have = resource.split(":", 5)
    if len(want) != len(have):
        return False
    return all(glob_match(w, h) for w, h in zip(want, have, strict=True))


def _as_list(value: Any, what: str) -> list[str]:
    values: list[str] | None = None
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        values = list(value)
    if values is not None:
        if any("${" in v for v in values):
            raise PolicyError(f"{what}: policy variables (${{...}}) are not supported")
        return values
    if isinstance(value, bool):
        return ["true" if value else "false"]
    raise PolicyError(f"{what} must be a string or a list of strings, got {value!r}")


def _lookup(context: Context, key: str) -> list[str] | None:
    """The context values of `key` (case-insensitive name), or None when absent."""
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            if isinstance(value, str):
                return [value]
            values = list(value)
            return values if values else None
    return None


def _value_matches(operator: str, policy_value: str, context_value: str) -> bool:
    if operator in ("stringequals", "stringnotequals", "arnequals", "arnnotequals"):
        return policy_value == context_value
    if operator in ("stringequalsignorecase", "stringnotequalsignorecase"):
        return policy_value.lower() == context_value.lower()
    if operator in ("stringlike", "stringnotlike"):
        return glob_match(policy_value, context_value)
    if operator in ("arnlike", "arnnotlike"):
        return resource_matches(policy_value, context_value)
    raise PolicyError(f"unsupported condition operator {operator}")


def _condition(qualified: str, key: str, policy_values: list[str], context: Context) -> bool:
    set_op = None
    operator = qualified
    if ":" in qualified:
        set_op, _, operator = qualified.partition(":")
        set_op = set_op.lower()
        if set_op not in ("forallvalues", "foranyvalue"):
            raise PolicyError(f"unsupported set operator {set_op!r} in {qualified!r}")
    if_exists = operator.lower().endswith("ifexists")
    op = operator.lower().removesuffix("ifexists")
    values = _lookup(context, key)

    if op == "null":
        if set_op or if_exists:
            raise PolicyError(f"{qualified} is not a valid operator")
        want_absent = [v.lower() for v in policy_values]
        absent = values is None
        return any((w == "true") == absent for w in want_absent)

    if op == "bool":
        if values is None:
            return if_exists
        wanted = {v.lower() for v in policy_values}
        return any(v.lower() in wanted for v in values)

    if op not in _STRING_OPERATORS:
        raise PolicyError(f"unsupported condition operator {operator!r}")
    negated = op in _NEGATED

    def matches_any_policy_value(context_value: str) -> bool:
        return any(_value_matches(op, pv, context_value) for pv in policy_values)

    if set_op == "forallvalues":
        # vacuously true for an absent or empty key: AWS's documented (and often surprising) rule
        if values is None:
            return True
        if negated:
            return all(not matches_any_policy_value(v) for v in values)
        return all(matches_any_policy_value(v) for v in values)
    if set_op == "foranyvalue":
        if values is None:
            return if_exists
        if negated:
            return any(not matches_any_policy_value(v) for v in values)
        return any(matches_any_policy_value(v) for v in values)
    if values is None:
        # a negated operator on a missing key matches (nothing equals the values); others do not
        return True if negated else if_exists
    if negated:
        return all(not matches_any_policy_value(v) for v in values)
    return any(matches_any_policy_value(v) for v in values)


def conditions_hold(conditions: Mapping[str, Any], context: Context) -> bool:
    if not isinstance(conditions, Mapping):
        raise PolicyError("Condition must be an object")
    for operator, block in conditions.items():
        if not isinstance(block, Mapping):
            raise PolicyError(f"Condition operator {operator} must map keys to values")
        for key, raw in block.items():
            if not _condition(operator, key, _as_list(raw, f"Condition {operator} {key}"), context):
                return False
    return True


def _statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = policy.get("Statement")
    if isinstance(statements, Mapping):
        return [statements]
    if not isinstance(statements, list):
        raise PolicyError("policy has no Statement list")
    return statements


def statement_applies(statement: Mapping[str, Any], action: str, resource: str, context: Context) -> bool:
    if "Principal" in statement or "NotPrincipal" in statement:
        raise PolicyError("an identity policy statement has no Principal/NotPrincipal")
    if ("Action" in statement) == ("NotAction" in statement):
        raise PolicyError("a statement needs exactly one of Action and NotAction")
    if ("Resource" in statement) == ("NotResource" in statement):
        raise PolicyError("a statement needs exactly one of Resource and NotResource")
    if "Action" in statement:
        if not any(action_matches(p, action) for p in _as_list(statement["Action"], "Action")):
            return False
    elif any(action_matches(p, action) for p in _as_list(statement["NotAction"], "NotAction")):
        return False
    if "Resource" in statement:
        if not any(resource_matches(p, resource) for p in _as_list(statement["Resource"], "Resource")):
            return False
    elif any(resource_matches(p, resource) for p in _as_list(statement["NotResource"], "NotResource")):
        return False
    return conditions_hold(statement.get("Condition", {}), context)


def evaluate(policy: Mapping[str, Any], action: str, resource: str, context: Context | None = None) -> Decision:
    """Allow, ExplicitDeny or ImplicitDeny for one action on one resource ARN (or `*`)."""
    context = context or {}
    allows: list[str] = []
    denies: list[str] = []
    for index, statement in enumerate(_statements(policy)):
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"statement {index}: Effect must be Allow or Deny, got {effect!r}")
        if statement_applies(statement, action, resource, context):
            (allows if effect == "Allow" else denies).append(str(statement.get("Sid", index)))
    if denies:
        return Decision(EXPLICIT_DENY, tuple(denies))
    if allows:
        return Decision(ALLOW, tuple(allows))
    return Decision(IMPLICIT_DENY)


def evaluate_all(policies: Sequence[Mapping[str, Any]], action: str, resource: str,
                 context: Context | None = None) -> Decision:
    """Several identity policies attached to one principal: the union, Deny still wins."""
    combined = {"Version": "2012-10-17", "Statement": [s for p in policies for s in _statements(p)]}
    return evaluate(combined, action, resource, context)


def tag_context(
    service: str,
    resource_tags: Mapping[str, str] | None = None,
    request_tags: Mapping[str, str] | None = None,
    tag_keys: Sequence[str] | None = None,
) -> dict[str, ContextValue]:
    """The tag condition keys AWS puts in a request's context.

    Resource tags appear both as `aws:ResourceTag/K` and as the service's own
    `<service>:ResourceTag/K`; tags in the request as `aws:RequestTag/K` plus the multi-valued
    `aws:TagKeys` (for UntagResource, `tag_keys` are the keys being removed)."""
    context: dict[str, ContextValue] = {}
    for key, value in (resource_tags or {}).items():
        context[f"aws:ResourceTag/{key}"] = value
        context[f"{service}:ResourceTag/{key}"] = value
    for key, value in (request_tags or {}).items():
        context[f"aws:RequestTag/{key}"] = value
    keys = list(tag_keys) if tag_keys is not None else list(request_tags or {})
    if keys:
        context["aws:TagKeys"] = keys
    return context
