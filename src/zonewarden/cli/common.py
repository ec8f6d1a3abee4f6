"""Shared CLI plumbing: the --config/--json options, error rendering, the console."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from zonewarden.errors import ZoneWardenError

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="ZONEWARDEN_CONFIG",
    help="Region config (TOML). Default: .zonewarden/demo.toml left by `zonewarden up`.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def friendly_errors(func: F) -> F:
    """Turn ZoneWarden errors into one red line and exit code 2 (1 for retryable)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ZoneWardenError as exc:
            # escape: messages name config tables like [backend], not rich markup
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            sys.exit(1 if exc.__class__.__name__.endswith("Unavailable") else 2)

    return wrapper  # type: ignore[return-value]


def print_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))
