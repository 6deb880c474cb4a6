"""Imports point one way: api → service → core; core stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "core": {"api", "service", "fastapi", "starlette", "pydantic", "pydantic_settings", "httpx",
             "sqlite3", "redis", "multiprocessing", "socket", "subprocess", "os", "uvicorn"},
    "service": {"api", "fastapi", "starlette", "uvicorn"},
}  # fmt: skip


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_one_way(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no sources found under {package}/"
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in files
        if imported_roots(path) & FORBIDDEN[package]
    }
    assert offending == {}


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from api.main import app\nimport fastapi.routing\n", encoding="utf-8")
    assert imported_roots(bad) & FORBIDDEN["service"] == {"api", "fastapi"}
