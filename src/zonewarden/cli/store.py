"""`zonewarden store check | backup | recover`: the store file's integrity, by hand.

This module parses options and renders; the work is in runtime/recovery.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TextColumn

from zonewarden.cli.common import (
    config_option,
    console,
    err_console,
    friendly_errors,
    json_option,
    print_json,
)
from zonewarden.config import resolve
from zonewarden.errors import StoreCorrupt
from zonewarden.runtime import recovery


@click.group("store")
def store_group() -> None:
    """Check, back up and recover the region's SQLite store."""


@store_group.command("check")
@config_option
@click.option("--quick", is_flag=True, help="SQLite's quick_check instead of the full check.")
@json_option
@friendly_errors
def check(config_path: str | None, quick: bool, as_json: bool) -> None:
    """Run SQLite's integrity check over the store (on etcd: check that every kept
    plan's contents are stored); exit 3 when it is damaged."""
    config = resolve(config_path)
    result = recovery.check(config, full=not quick)
    if as_json:
        print_json(
            {
                "path": str(result.path),
                "ok": result.ok,
                "problems": list(result.problems),
                "pages": result.pages,
                "seconds": round(result.seconds, 3),
            }
        )
    elif result.ok:
        checked = f"{result.pages} pages checked " if result.pages else "checked "
        console.print(f"[green]{result.path}: sound[/] ({checked}in {result.seconds:.2f}s)")
    if not result.ok:
        for problem in result.problems:
            err_console.print(f"  {problem}", highlight=False, markup=False)
        fix = (
            "those plans cannot be read; clean-up should never allow it: please report it"
            if config.store.kind == "etcd"
            else "`zonewarden store recover` rebuilds it from its newest valid plan, or "
            "`zonewarden store recover --from BACKUP` from a backup"
        )
        raise StoreCorrupt(
            f"{result.path} is damaged ({len(result.problems)} problem(s) above); {fix}"
        )


@store_group.command("backup")
@config_option
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def backup(config_path: str | None, dest: Path) -> None:
    """Copy the store to DEST with SQLite's online backup (safe while the region runs)."""
    config = resolve(config_path)
    with Progress(
        TextColumn("backing up"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} pages"),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("backup", total=None)
        result = recovery.make_backup(
            config, dest, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    console.print(
        f"[green]backed up[/] {config.store.path} to {dest} ({result.pages} pages, checked)"
    )


@store_group.command("recover")
@config_option
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A backup made by `zonewarden store backup` (default: salvage the damaged store).",
)
@friendly_errors
def recover(config_path: str | None, source: Path | None) -> None:
    """Replace a damaged store with one rebuilt from its newest valid plan (or a backup).

    Stop the region first. The damaged file is moved aside, never deleted; the recovered
    plan is published again past every generation seen, and applied to every endpoint.
    Pins and the freeze flag are not carried over: set them again if you need them."""
    config = resolve(config_path)
    done = recovery.recover(config, source=source, now=time.time())
    console.print(
        f"[green]recovered[/] {done.path} from {done.source}: generation {done.generation}, "
        f"{done.endpoints} endpoints applied"
    )
    if done.moved_aside is not None:
        console.print(f"the file it replaced is kept as {done.moved_aside}")


def register(cli: click.Group) -> None:
    cli.add_command(store_group)
