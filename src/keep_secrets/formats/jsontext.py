"""JSON read and written back without changing how its numbers are spelled.

`json.loads` turns `1.10` into the float 1.1, `1e3` into 1000.0 and `-0` into 0, so a value
read from a JSON secret or an imported JSON file and written out again would differ from what
the user wrote. Here numbers stay the text they were (:class:`Number`, a `str`), and
:func:`dumps` writes them back as that text.
"""

from __future__ import annotations

import json
from typing import Any


class Number(str):
    """A JSON number exactly as the text spells it (`1.10`, `1e3`, `-0`, 30 digits)."""


def loads(text: str, **kwargs: Any) -> Any:
    """`json.loads`, with every number (and NaN/Infinity) kept as a :class:`Number`."""
    return json.loads(text, parse_int=Number, parse_float=Number, parse_constant=Number, **kwargs)


def field(data: dict[str, Any], path: str) -> Any:
    """The field `path` of a JSON object (`keep get --field`, `{vault:KEY.field}`): an exact
    top-level name wins (a name may itself contain dots), otherwise dots descend into nested
    objects. Raises KeyError when there is no such field."""
    if path in data:
        return data[path]
    found: Any = data
    for part in path.split("."):
        if not isinstance(found, dict) or part not in found:
            raise KeyError(path)
        found = found[part]
    return found


def dumps(value: Any, item_separator: str = ",", key_separator: str = ":") -> str:
    """`value` as JSON (compact by default), its :class:`Number` values spelled as read. May
    raise RecursionError for a value nested about as deeply as `json.loads` can read."""
    if isinstance(value, Number):
        return str(value)
    # loops, not generator expressions: one frame per level, so any depth json.loads reads fits
    parts: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            text = dumps(item, item_separator, key_separator)
            parts.append(json.dumps(key, ensure_ascii=False) + key_separator + text)
        return "{" + item_separator.join(parts) + "}"
    if isinstance(value, list):
        for item in value:
            parts.append(dumps(item, item_separator, key_separator))
        return "[" + item_separator.join(parts) + "]"
    return json.dumps(value, ensure_ascii=False)
