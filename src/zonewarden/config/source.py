"""The config's source text: finds the line of a table or key, and builds located errors.

Rules kept here: every ConfigError raised while parsing names the file and, where it
can be found, the line of the key (else of its table header).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from zonewarden.errors import ConfigError


class Source:
    """Finds the line of a key in the raw TOML text, for error messages."""

    def __init__(self, path: Path | None, text: str) -> None:
        self.path, self.lines = path, text.splitlines()

    def line(self, table: str, index: int | None = None, key: str | None = None) -> int | None:
        current: tuple[str, int | None] | None = None
        counts: dict[str, int] = {}
        header_line = None
        for number, raw in enumerate(self.lines, 1):
            text = raw.split("#", 1)[0].strip()
            if text.startswith("[["):
                name = text.strip("[] ")
                counts[name] = counts.get(name, -1) + 1
                current = (name, counts[name])
            elif text.startswith("["):
                current = (text.strip("[] "), None)
            else:
                if current == (table, index) and key and text.split("=", 1)[0].strip() == key:
                    return number
                continue
            if current == (table, index):
                header_line = number
        if key is not None and index is None:  # a key written as [[table.key]] sub-tables
            nested = self.line(f"{table}.{key}", 0) or self.line(f"{table}.{key}")
            if nested is not None:
                return nested
        return header_line

    def error(
        self, message: str, table: str, index: int | None = None, key: str | None = None
    ) -> ConfigError:
        where = str(self.path) if self.path else "config"
        return ConfigError(message, file=where, line=self.line(table, index, key))


def section(
    src: Source,
    data: Mapping[str, Any],
    table: str,
    keys: Mapping[str, Callable[[Any], Any]],
    index: int | None = None,
) -> dict[str, Any]:
    out = {}
    label = f"[[{table}]]" if index is not None else f"[{table}]"
    if not isinstance(data, Mapping):
        raise src.error(
            f"{table} must be a table ({label} with keys under it), not {_kind(data)}", table, index
        )
    for key, value in data.items():
        check = keys.get(key)
        if check is None:
            raise src.error(
                f"unknown key {key!r} in {label} (known: {', '.join(sorted(keys))})",
                table,
                index,
                key,
            )
        try:
            out[key] = check(value)
        except ValueError as exc:
            raise src.error(f"{label} {key}: {exc}", table, index, key) from None
    return out


def tables(src: Source, data: Mapping[str, Any], table: str) -> list[Mapping[str, Any]]:
    """The [[table]] entries of the document: a list of tables, or a located error."""
    items = data.get(table, [])
    if not isinstance(items, list) or not all(isinstance(x, Mapping) for x in items):
        raise src.error(
            f"{table} must be written as [[{table}]] tables, not {_kind(items)}", table, 0
        )
    return items


def _kind(value: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "a string"}
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a single table"
    return names.get(type(value), type(value).__name__)
