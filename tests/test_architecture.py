"""The package rules of DESIGN.md, checked: import boundaries, a docstring on every module, module size."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"gateway", "guardrails", "ui", "schemas"}
# What each package may import from ours (gateway is the composition root and may import everything).
ALLOWED = {"schemas": set(), "guardrails": {"schemas"}, "ui": {"schemas"}, "gateway": OURS}
MAX_LINES = 400
# Reviewed exceptions to the size rule: one job each, split would scatter a single mapping table.
SIZE_ALLOWLIST: set[str] = set()


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_import_boundaries(package: str) -> None:
    offenders = []
    for path in _modules(package):
        forbidden = _imported_packages(path) - ALLOWED[package] - {package}
        if forbidden:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(forbidden)}")
    assert offenders == []


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_every_module_opens_with_a_docstring(package: str) -> None:
    missing = [str(path.relative_to(ROOT)) for path in _modules(package)
               if ast.get_docstring(ast.parse(path.read_text())) is None]
    assert missing == []


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_modules_stay_small(package: str) -> None:
    big = []
    for path in _modules(package):
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES and str(path.relative_to(ROOT)) not in SIZE_ALLOWLIST:
            big.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert big == []


def test_no_global_statements() -> None:
    offenders = []
    for package in ALLOWED:
        for path in _modules(package):
            tree = ast.parse(path.read_text())
            if any(isinstance(node, ast.Global) for node in ast.walk(tree)):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
