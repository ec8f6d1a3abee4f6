"""The sim and check commands, through click, with JSON output."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from zonewarden.cli.main import cli


def run(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, json.loads(result.stdout)


def test_incident_json_plot_trace_and_replay(tmp_path: Path) -> None:
    trace, plot = tmp_path / "t.jsonl", tmp_path / "p.png"
    code, body = run(
        "sim",
        "incident",
        "--protocol",
        "legacy",
        "--json",
        "--trace",
        str(trace),
        "--plot",
        str(plot),
    )
    assert code == 1 and body["ok"] is False and "I1" in body["breaches"]  # type: ignore[operator]
    assert plot.stat().st_size > 10_000
    code, body = run("sim", "replay", str(trace), "--json")
    assert code == 0 and body["identical"] is True
    code, body = run("sim", "incident", "--protocol", "safe", "--json")
    assert code == 0 and body["ok"] is True


def test_swarm_json_gives_replay_commands() -> None:
    code, body = run("sim", "swarm", "--protocol", "legacy", "--seeds", "10", "--json")
    assert code == 1
    failures = body["failures"]
    assert isinstance(failures, list) and failures
    assert failures[0]["replay"].startswith("zonewarden sim seed --protocol legacy --seed ")
    code, body = run("sim", "swarm", "--protocol", "safe", "--seeds", "10", "--json")
    assert code == 0 and body["failed"] == 0


def test_check_json() -> None:
    code, body = run(
        "check",
        "--protocol",
        "legacy",
        "--enactors",
        "2",
        "--endpoints",
        "1",
        "--generations",
        "3",
        "--retention",
        "1",
        "--keep-newest",
        "1",
        "--batch",
        "1",
        "--json",
    )
    assert code == 1 and body["ok"] is False
    code, body = run("check", "--protocol", "safe", "--json")
    assert code == 0 and body["ok"] is True and body["complete"] is True
