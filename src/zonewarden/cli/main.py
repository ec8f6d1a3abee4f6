"""The `zonewarden` command: a click group; each area registers its own commands.

Every module listed in COMMAND_MODULES exposes `register(cli: click.Group) -> None`.
A module that is missing (an optional area not installed) is skipped.
"""

from __future__ import annotations

import importlib
import sys

import click

from zonewarden import __version__

COMMAND_MODULES = (
    "zonewarden.cli.region",
    "zonewarden.cli.ops",
    "zonewarden.cli.dns",
    "zonewarden.cli.sim",
    "zonewarden.cli.cascade",
    "zonewarden.cli.backends",
    "zonewarden.cli.health",
    "zonewarden.cli.store",
    "zonewarden.cli.api",
    "zonewarden.cli.up",
    "zonewarden.cli.probe",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="zonewarden")
def cli() -> None:
    """ZoneWarden: a DNS control plane whose every write is fenced by generation.

    Start with `zonewarden up` (a whole demo region on loopback), then
    `zonewarden status` and `dig @127.0.0.1 -p 5353 kv.us-east-1.example.`.
    """


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(cli)


_register()


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
