"""The layers of README "Design": `cli -> services -> vaults`, nothing imports upwards, and the
pure leaves import no layer. Read from the source (every import, lazy ones and TYPE_CHECKING
ones included), so a function-level import cannot slip past."""

from __future__ import annotations

import ast
from pathlib import Path

import keep_secrets

ROOT = Path(keep_secrets.__file__).parent
LEAVES = {"formats", "names", "model", "placeholders", "record", "fsutil", "concurrency"}
#: layer -> the layers it must never import
FORBIDDEN = {
    "vaults": {"services", "cli", "web"},
    "services": {"cli", "web"},
    "web": {"cli"},
    **{leaf: {"cli", "services", "web", "vaults"} for leaf in LEAVES},
}


def _layer(parts: tuple[str, ...]) -> str:
    return parts[0].removesuffix(".py") if parts else ""


def _imported(root: Path, path: Path, node: ast.AST) -> list[tuple[str, ...]]:
    """The keep_secrets modules an import statement names, as path parts inside the package."""
    package = path.relative_to(root).parent.parts
    if isinstance(node, ast.Import):
        return [tuple(a.name.split(".")[1:]) for a in node.names if a.name.split(".")[0] == "keep_secrets"]
    if isinstance(node, ast.ImportFrom):
        module = tuple(node.module.split(".")) if node.module else ()
        if node.level == 0:
            return [module[1:]] if module[:1] == ("keep_secrets",) else []
        base = package[: len(package) - (node.level - 1)]
        return [(*base, *module, a.name) for a in node.names] if not module else [(*base, *module)]
    return []


def upward_imports(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(root).parts
        banned = FORBIDDEN.get(_layer(where), set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _imported(root, path, node):
                if _layer(target) in banned:
                    found.append(f"{'/'.join(where)}:{getattr(node, 'lineno', 0)} imports {'.'.join(target)}")
    return found


def test_nothing_imports_upwards() -> None:
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    (tmp_path / "vaults").mkdir()
    (tmp_path / "vaults" / "x.py").write_text("def f():\n    from ..services import iam\n    from . import base\n")
    (tmp_path / "names.py").write_text("import keep_secrets.vaults.registry\nfrom .model import UsageError\n")
    assert upward_imports(tmp_path) == ["names.py:1 imports vaults.registry", "vaults/x.py:2 imports services"]
