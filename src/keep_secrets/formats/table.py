"""A small plain-text table renderer.

Deliberately not rich: `keep get`/`keep show` must start fast (SPEC §12), and a table of a few
columns needs no layout engine. Values with newlines are shown with a visible `⏎` so rows stay
one line each; control characters are escaped so a value can never move the cursor.
"""

from __future__ import annotations

from collections.abc import Sequence


def _clean(cell: object) -> str:
    text = "" if cell is None else str(cell)
    if text.isascii() and text.isprintable():
        return text  # no newline, tab or control character: nothing to show differently
    import unicodedata  # only for text that needs it (SPEC §12: `keep get` start-up)

    out = []
    for ch in text:
        if ch == "\n":
            out.append("⏎")
        elif ch == "\t":
            out.append("    ")
        elif unicodedata.category(ch) in ("Cc", "Cf") and ch != "\u200d":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _width(text: str) -> int:
    if text.isascii():
        return len(text)  # no ASCII character is wide
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]], max_cell: int = 80) -> str:
    """Render rows as an aligned table with a header rule. Cells longer than `max_cell` are
    cut with `…` (tables are for reading; `--format json/raw` give full values)."""
    cells = [[_clean(c) for c in row] for row in rows]
    for row in cells:
        for i, cell in enumerate(row):
            if _width(cell) > max_cell:
                row[i] = cell[: max_cell - 1] + "…"
    widths = [_width(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], _width(cell))
    lines = ["  ".join(_pad(h, widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)
