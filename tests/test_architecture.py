"""DESIGN §2's package arrows (import-linter contracts in pyproject.toml) and the rule that no
module reaches into another module's private names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("spymaster_core", "spymaster_assets", "spymaster_live", "spymaster_cli", "ml")


def test_import_contracts_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout and "4 kept" in out.stdout


def _private_uses(path: Path) -> list[str]:
    """`alias._name` where alias is an imported project module, and `from project.mod import _name`."""
    tree = ast.parse(path.read_text(), str(path))
    modules: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} imports {node.module}.{a.name}")
                else:
                    modules.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in PACKAGES:
                    modules.add(a.asname or a.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{path.relative_to(REPO)}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_no_private_names_across_modules() -> None:
    files = [p for pkg in (*PACKAGES, "benchmarks") for p in (REPO / pkg).rglob("*.py")]
    assert len(files) > 60
    found = [f for p in files for f in _private_uses(p)]
    assert found == []
