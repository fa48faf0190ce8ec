"""Dependency direction: web → store → decode; Scapy only inside decode."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layer(pkg: str) -> set[str]:
    out: set[str] = set()
    for p in (APP / pkg).rglob("*.py"):
        out |= _imports(p)
    return out


def test_decode_imports_neither_web_nor_store_nor_frameworks() -> None:
    bad = {
        n
        for n in _layer("decode")
        if n.split(".")[0] in {"fastapi", "starlette", "sqlalchemy", "jinja2", "uvicorn"}
        or n.startswith(("app.store", "app.web"))
    }
    assert not bad


def test_store_does_not_import_web() -> None:
    assert not {n for n in _layer("store") if n.startswith("app.web") or n.startswith("fastapi")}


def test_scapy_only_in_decode() -> None:
    for pkg in ("store", "web"):
        assert not {n for n in _layer(pkg) if n.startswith("scapy")}
    assert not {n for n in _imports(APP / "cli.py") if n.startswith("scapy")}


# The decode stages in pipeline order; a stage imports only from itself and earlier ones.
STAGES = {"model": 0, "readers": 1, "text": 1, "analysis": 2, "explain": 3, "export": 4}


def test_decode_stages_import_only_earlier_stages() -> None:
    bad = []
    for stage, rank in STAGES.items():
        for path in (APP / "decode" / stage).rglob("*.py"):
            for name in _imports(path):
                parts = [*name.split("."), ""]
                later = parts[:2] == ["app", "decode"] and STAGES.get(parts[2], -1) > rank
                if later:
                    bad.append(f"{path.relative_to(APP)} imports {name}")
    assert not bad


def test_no_function_in_app_is_over_100_lines() -> None:
    long = []
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > 100:
                    long.append(f"{path.relative_to(APP)}:{node.lineno} {node.name} ({size})")
    assert not long
