"""`sim incident --plot` on an install without matplotlib (the README's `.[fast]`) is one
clear error naming the `[plot]` extra, before the run; a bad file type too."""

from __future__ import annotations

import sys

from click.testing import CliRunner

from zonewarden.cli.main import cli


def test_plot_without_matplotlib_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    out = tmp_path / "run.png"
    result = CliRunner().invoke(cli, ["sim", "incident", "--protocol", "safe", "--plot", str(out)])
    assert result.exit_code == 2, result.output
    assert "pip install 'zonewarden[plot]'" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists()


def test_plot_file_type_is_checked_first(tmp_path):
    result = CliRunner().invoke(
        cli, ["sim", "incident", "--protocol", "safe", "--plot", str(tmp_path / "run.txt")]
    )
    assert result.exit_code == 2 and "must end in .png, .svg, .pdf" in result.output


def test_swarm_defaults_to_the_safe_protocol():
    result = CliRunner().invoke(cli, ["sim", "swarm", "--seeds", "2", "--jobs", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert '"protocol": "safe"' in result.output
