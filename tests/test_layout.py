"""The layout holds: the product packages never import the tools that live beside them,
and the product's layers point down.

Layers, top to bottom (``LAYERS``): the assembly of the app (``bot/factory.py``,
``bot/runner.py``) → ``handlers/`` → services (``bot/outbox.py``, ``bot/reminders/``,
``bot/notify.py``, ``bot/services/`` …) → the toolkit every layer shares (config, i18n,
callback data, keyboards, filters …) → ``db/``. A module may import its own layer and the
layers below it, never one above: not at module level, not inside a function, not under
``TYPE_CHECKING``. A service that needs the running app takes what it needs as arguments
or a small Protocol (``bot/reminders/hooks.py``); a piece both layers need moves down
(``bot/staff_callbacks.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "handlers", "db")
TOOLS = ("sandbox", "tests", "bench")

# Top to bottom. Each entry names a module or a package (and everything in it).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("assembly", ("bot.factory", "bot.runner", "bot.webhook", "bot.observability")),
    ("handlers", ("handlers",)),
    (
        "services",
        (
            "bot.outbox",
            "bot.scheduler",
            "bot.reminders",
            "bot.notify",
            "bot.services",
            "bot.middlewares",
            "bot.fsm_storage",
            "bot.navigation",
            "bot.retention",
            "bot.support",
            "bot.revoke",
            "bot.outcomes",
            "bot.maintenance",
            "bot.staff_chats",
        ),
    ),
    (
        "toolkit",
        (
            "bot",  # the package's own __init__ only (see SPLIT_PACKAGES)
            "bot.config",
            "bot.clock",
            "bot.i18n",
            "bot.routing",
            "bot.callbacks",
            "bot.staff_callbacks",
            "bot.staff_menu",
            "bot.keyboards",
            "bot.filters",
            "bot.roles",
            "bot.formatting",
            "bot.contacts",
            "bot.telegram_utils",
            "bot.broadcast_content",
            "bot.logs",
        ),
    ),
    ("db", ("db",)),
)
# Packages whose modules sit in several layers: the entry names the package's __init__
# only, and each module must be listed itself.
SPLIT_PACKAGES = ("bot",)


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """Every module a file imports, at any level (function-level and ``TYPE_CHECKING``
    imports included). ``from package import name`` counts as ``package.name`` when that
    is a module; relative imports are resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(root, path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                is_module = (root / Path(*sub.split("."))).with_suffix(".py").exists() or (
                    root / Path(*sub.split(".")) / "__init__.py"
                ).exists()
                found.append((node.lineno, sub if is_module else base))
    return sorted(set(found))


def layer_of(module: str) -> int | None:
    """The index in LAYERS of the most specific entry naming ``module`` or a package
    above it; None for a module outside the product (the standard library, a dependency)."""
    best: tuple[int, int] | None = None  # (length of the entry, layer)
    for index, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            covers = module == entry or (
                module.startswith(entry + ".") and entry not in SPLIT_PACKAGES
            )
            if covers and (best is None or len(entry) > best[0]):
                best = (len(entry), index)
    return None if best is None else best[1]


def product_files(root: Path) -> list[Path]:
    return [p for package in PRODUCT for p in sorted((root / package).rglob("*.py"))]


def upward_imports(root: Path) -> list[str]:
    offenders = []
    for path in product_files(root):
        here = layer_of(module_name(root, path))
        if here is None:
            continue  # reported by test_every_product_module_has_a_layer
        for line, module in imported_modules(path, root):
            there = layer_of(module)
            if there is not None and there < here:
                offenders.append(
                    f"{path.relative_to(root)}:{line} ({LAYERS[here][0]}) imports {module} "
                    f"({LAYERS[there][0]}), a layer above it"
                )
    return offenders


def test_product_packages_never_import_the_sandbox_tests_or_benchmarks() -> None:
    offenders = []
    for path in product_files(ROOT):
        for line, module in imported_modules(path):
            if module.split(".")[0] in TOOLS:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offenders == []


def test_the_scan_sees_function_level_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from sandbox.telegram import FakeBotAPI\n")
    assert imported_modules(sample, tmp_path) == [(2, "sandbox.telegram")]


def test_every_product_module_has_a_layer() -> None:
    unplaced = [
        str(path.relative_to(ROOT))
        for path in product_files(ROOT)
        if layer_of(module_name(ROOT, path)) is None
    ]
    assert unplaced == [], "add each to LAYERS in tests/test_layout.py"


def test_layers_point_down() -> None:
    assert upward_imports(ROOT) == []


def test_an_upward_import_is_caught_at_any_level(tmp_path: Path) -> None:
    """Module level, inside a function, under TYPE_CHECKING, relative: all count."""
    files = {
        "bot/__init__.py": "",
        "bot/runner.py": "",
        "bot/config.py": "",
        "bot/outbox.py": (
            "from typing import TYPE_CHECKING\n"
            "from bot import config\n"  # down: fine
            "if TYPE_CHECKING:\n"
            "    from bot.runner import BotProcess\n"
            "def f():\n"
            "    from handlers.staff import menu\n"
        ),
        "bot/i18n.py": "from . import outbox\n",
        "handlers/__init__.py": "",
        "handlers/staff/__init__.py": "",
        "handlers/staff/menu.py": "import bot.runner\nfrom bot import config\n",
        "db/__init__.py": "",
        "db/models.py": "from bot.config import X\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = upward_imports(tmp_path)
    assert [line.split(" (")[0] for line in found] == [
        "bot/i18n.py:1",
        "bot/outbox.py:4",
        "bot/outbox.py:6",
        "handlers/staff/menu.py:1",
        "db/models.py:1",
    ]
    assert "imports bot.outbox (services), a layer above it" in found[0]


def test_the_architecture_page_lists_every_layer_entry() -> None:
    """docs/ARCHITECTURE.md's table of layers stays true to LAYERS."""
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = page.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if "| `" in line}
    missing = []
    for layer, entries in LAYERS:
        for entry in entries:
            if entry in SPLIT_PACKAGES:
                continue
            path = entry.replace(".", "/")
            if f"`{path}.py`" not in rows.get(layer, "") and f"`{path}/`" not in rows.get(
                layer, ""
            ):
                missing.append(f"{layer}: {path}")
    assert missing == []
