"""The layout holds: the product packages never import the tools that live beside them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "handlers", "db")
TOOLS = ("sandbox", "tests", "bench")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any level (function-level imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_product_packages_never_import_the_sandbox_tests_or_benchmarks() -> None:
    offenders = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, module in imported_modules(path):
                if module.split(".")[0] in TOOLS:
                    offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offenders == []


def test_the_scan_sees_function_level_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from sandbox.telegram import FakeBotAPI\n")
    assert imported_modules(sample) == [(2, "sandbox.telegram")]
