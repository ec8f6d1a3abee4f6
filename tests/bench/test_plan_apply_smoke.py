"""Smoke test of bench/plan_apply.py's ZoneWarden part at 500 endpoints (no peer, no timing).

The benchmark's correctness claims must hold at any size: the full apply brings every
endpoint to the plan, and the incremental apply rewrites exactly the changed 1%.
"""

from __future__ import annotations

import pytest
from bench.health_replan import run_health
from bench.plan_apply import main
from bench.region import Shape
from bench.zonewarden_run import changed_names, run_full, run_incremental, written_names

from zonewarden.core.enactor import EnactorConfig

SHAPE = Shape(endpoints=500, records=8)


def test_incremental_rewrites_exactly_the_changed_endpoints(tmp_path):
    path = tmp_path / "region.db"
    config = EnactorConfig(batch_size=100)
    full = run_full(SHAPE, path, config)
    assert full["full_all_at_generation"]
    assert full["full_outcomes"] == {"applied": 500}
    assert full["full_batches"] == 5

    incr = run_incremental(SHAPE, path, config)
    assert incr["incr_changed"] == 5
    assert incr["incr_plan_differs_exactly"]
    assert incr["incr_outcomes"] == {"applied": 5}
    assert incr["incr_written_exactly_changed"]
    assert incr["incr_rewritten_exactly_changed"]
    assert incr["incr_all_at_generation"]
    assert written_names(path, 2) == changed_names(SHAPE)

    health = run_health(SHAPE, path, config)
    assert health["health_replanned_exactly_affected"]
    assert health["health_written_exactly_affected"]
    assert health["health_changed"] >= 5


@pytest.mark.servers
def test_command_runs_in_child_processes_and_reports_json(tmp_path, capsys):
    argv = ["--endpoints", "300", "--repeat", "1", "--peer", "none", "--json"]
    assert main([*argv, "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert '"incr_written_exactly_changed": true' in out
