"""Shared CLI plumbing: the --config/--json options, error rendering, the console."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from zonewarden.errors import (
    PermanentError,
    RetryableError,
    RoleTaken,
    StoreBusy,
    StoreCorrupt,
    ZoneWardenError,
)

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


# exit status by the error tree (errors.py), most specific first; scripts can rely on it
EXIT_CODES: tuple[tuple[type[ZoneWardenError], int], ...] = (
    (StoreCorrupt, 3),  # the store is damaged: `zonewarden store check` / `store recover`
    (StoreBusy, 4),  # another process owns the store or the role
    (RoleTaken, 4),
    (RetryableError, 1),  # try again later
    (PermanentError, 2),  # fix the input or the environment
)


def exit_code(exc: ZoneWardenError) -> int:
    return next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), 2)


def friendly_errors(func: F) -> F:
    """Turn ZoneWarden errors into one red line and the exit status of their class
    (EXIT_CODES); an OS refusal (a full disk, a read-only file) is one line too."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ZoneWardenError as exc:
            # escape: messages name config tables like [backend], not rich markup
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            sys.exit(exit_code(exc))
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            err_console.print(
                f"[bold red]error:[/]{escape(where)}: {escape(exc.strerror or str(exc))}",
                highlight=False,
                soft_wrap=True,
            )
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


MAX_GENERATION = 2**63 - 1  # what SQLite and etcd can hold


if TYPE_CHECKING:  # generic in click's own stubs; not subscriptable in older clicks
    _ParamType = click.ParamType[int, Any]
else:
    _ParamType = click.ParamType


class GenerationType(_ParamType):
    """A plan generation: a whole number a store can hold, else a clear usage error."""

    name = "generation"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a generation (a whole number, e.g. 5)", param, ctx)
        if not 0 <= number <= MAX_GENERATION:
            self.fail(
                f"{value} is not a generation any store holds (0..{MAX_GENERATION}); "
                "`zonewarden plan list` shows the stored ones",
                param,
                ctx,
            )
        return number


GENERATION = GenerationType()
COUNT = click.IntRange(0, MAX_GENERATION)


def print_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))
