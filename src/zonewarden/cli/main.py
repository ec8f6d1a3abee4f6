"""The `zonewarden` command: a click group; each area registers its own commands.

Every module listed in COMMAND_MODULES exposes `register(cli: click.Group) -> None`.
A module that is missing (an optional area not installed) is skipped.

Modules load lazily: `zonewarden planner` imports only the modules COMMANDS names for
`planner`, so each of `up`'s children starts in a fraction of the time (a region's
first DNS answer waits for several of them at once). A name COMMANDS does not know, and
`--help`, load every module, so a command added without a COMMANDS entry still works
(tests/cli/test_lazy_commands.py checks the table against a full load).
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
    "zonewarden.cli.demolb",
    "zonewarden.cli.store",
    "zonewarden.cli.api",
    "zonewarden.cli.up",
    "zonewarden.cli.probe",
)

# command -> the modules that register it (cascade adds itself to `sim`, demolb to `lb`)
COMMANDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("enactor", "planner", "reconciler"), ("zonewarden.cli.region",)),
    **dict.fromkeys(
        ("audit", "freeze", "pin", "plan", "repair", "rollback", "status", "unfreeze", "unpin"),
        ("zonewarden.cli.ops",),
    ),
    **dict.fromkeys(("export", "serve-dns"), ("zonewarden.cli.dns",)),
    "check": ("zonewarden.cli.sim",),
    "sim": ("zonewarden.cli.sim", "zonewarden.cli.cascade"),
    "backend": ("zonewarden.cli.backends",),
    **dict.fromkeys(("drain", "health", "undrain"), ("zonewarden.cli.health",)),
    "lb": ("zonewarden.cli.health", "zonewarden.cli.demolb"),
    "store": ("zonewarden.cli.store",),
    "api": ("zonewarden.cli.api",),
    "up": ("zonewarden.cli.up",),
    "probe": ("zonewarden.cli.probe",),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is asked for."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._loaded: set[str] = set()

    def load(self, modules: tuple[str, ...] = COMMAND_MODULES) -> None:
        for name in modules:
            if name in self._loaded:
                continue
            self._loaded.add(name)
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name == name:
                    continue
                raise
            module.register(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self.load(COMMANDS.get(cmd_name, COMMAND_MODULES))
        if cmd_name not in self.commands:
            self.load()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load()
        return super().list_commands(ctx)

    def has(self, cmd_name: str) -> bool:
        """Whether `cmd_name` exists (loading its module), without a click context."""
        return self.get_command(click.Context(self), cmd_name) is not None


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="zonewarden")
def cli() -> None:
    """ZoneWarden: a DNS control plane whose every write is fenced by generation.

    Start with `zonewarden up` (a whole demo region on loopback), then
    `zonewarden status` and `dig @127.0.0.1 -p 5353 kv.us-east-1.example.`.
    """


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
