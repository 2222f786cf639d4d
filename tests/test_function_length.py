"""No function in the package is longer than 60 lines (from its `def` to its last line,
docstring included): past that, a reviewer splits it. An exception would be named here with
its reason; there is none."""

from __future__ import annotations

import ast
from pathlib import Path

import keep_secrets

LIMIT = 60
#: "module:function" -> why it is better whole (keep this empty unless that is really so)
ALLOWED: dict[str, str] = {}


def long_functions(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                name = f"{path.relative_to(root).as_posix()}:{node.name}"
                if length > LIMIT and name not in ALLOWED:
                    found.append(f"{name} (line {node.lineno}): {length} lines")
    return found


def test_no_function_is_longer_than_sixty_lines() -> None:
    assert long_functions(Path(keep_secrets.__file__).parent) == []


def test_the_check_sees_a_long_function(tmp_path: Path) -> None:
    """A function of exactly LIMIT lines passes; a method one line longer is reported."""
    def lines(n: int, indent: str) -> str:
        return "".join(f"{indent}x{i} = {i}\n" for i in range(n))

    (tmp_path / "m.py").write_text("def short():\n" + lines(LIMIT - 1, "    ")
                                   + "\n\nclass C:\n    def long(self):\n" + lines(LIMIT, "        "))
    assert long_functions(tmp_path) == [f"m.py:long (line {LIMIT + 4}): {LIMIT + 1} lines"]
