"""Every extra a message tells users to install exists in pyproject.toml (the etcd
store once named a `zonewarden[etcd]` extra that did not)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def named_extras() -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / "src" / "zonewarden").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "MissingExtra"
                and len(node.args) == 2
                and isinstance(node.args[1], ast.Constant)
            ):
                found.add((str(path.relative_to(ROOT)), node.args[1].value))
    return found


def test_every_named_extra_exists():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    named = named_extras()
    assert named, "the scan finds the Route 53 extra at least"
    missing = {(where, extra) for where, extra in named if extra not in extras}
    assert not missing, f"messages name extras pyproject.toml lacks: {missing}"


def test_the_etcd_store_needs_no_extra():
    source = (ROOT / "src" / "zonewarden" / "runtime" / "openers.py").read_text()
    assert "zonewarden[etcd]" not in source and '"etcd")' not in source
