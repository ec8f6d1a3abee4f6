"""The lazy command table of cli/main.py agrees with what the modules register."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest

from zonewarden.cli.main import COMMAND_MODULES, COMMANDS, LazyGroup


def test_every_command_is_in_the_table_with_its_module():
    full = click.Group()
    owner: dict[str, str] = {}
    for name in COMMAND_MODULES:
        before = set(full.commands)
        importlib.import_module(name).register(full)
        owner.update(dict.fromkeys(set(full.commands) - before, name))
    assert set(owner) == set(COMMANDS)
    for command, module in owner.items():
        assert COMMANDS[command][0] == module, command


def test_a_command_loads_only_its_own_modules_and_sim_gets_cascade():
    group = LazyGroup(name="zonewarden")
    assert group.has("sim")
    assert "cascade" in group.commands["sim"].commands  # type: ignore[attr-defined]
    assert group._loaded == {"zonewarden.cli.sim", "zonewarden.cli.cascade"}
    assert not group.has("no-such-command")
    assert group._loaded == set(COMMAND_MODULES)  # an unknown name loads everything


@pytest.mark.servers
def test_a_role_process_does_not_import_the_api_or_the_simulator():
    code = (
        "import sys; from zonewarden.cli.main import cli; cli.has('planner'); "
        "print(sorted(m for m in sys.modules if m.startswith(('zonewarden.sim', 'fastapi'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
