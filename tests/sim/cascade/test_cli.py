"""`zonewarden sim cascade`: JSON per policy, exit codes, one-line refusals."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zonewarden.cli.main import cli


def invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["sim", "cascade", *args])
    return r.exit_code, r.output


def test_json_reports_each_policy_and_exits_1_when_one_collapses() -> None:
    code, output = invoke(
        "--scenario",
        "bronson",
        "--set",
        "horizon=120",
        "--policy",
        "fifo-retry",
        "--policy",
        "admission",
        "--json",
    )
    assert code == 1
    body = json.loads(output)
    by = {p["policy"]: p for p in body["policies"]}
    assert by["fifo-retry"]["recovered"] is False and by["admission"]["recovered"] is True
    for p in by.values():
        assert {"recovered", "recovery_s", "peak_queue_depth", "goodput_per_s"} <= p.keys()
    assert body["assumptions"]["buffer"]


def test_chain_json_reports_the_order_of_recovery() -> None:
    code, output = invoke(
        "--set",
        "hosts=2000",
        "--set",
        "dns_outage=1200",
        "--set",
        "after=3000",
        "--policy",
        "admission+velocity",
        "--json",
    )
    assert code == 0
    (run,) = json.loads(output)["policies"]
    assert run["recovery_order"] == ["dns", "leases", "network_state", "health_checks"]
    assert {"recovered", "recovery_s", "peak_queue_depth", "goodput_per_s"} <= run.keys()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "hosts=-5"], "hosts = -5 is not allowed: must be in [1,"),
        (["--set", "workers=0"], "workers = 0 is not allowed"),
        (["--set", "establish_timeout=1"], "must be > establish_time 2 s"),
        (["--policy", "admission+bogus"], "policy = bogus is not allowed: one of fifo-retry"),
        (["--set", "hostz=3"], "hostz = 3 is not allowed: not a parameter of oct2025"),
        (["--scenario", "nope"], "scenario = nope is not allowed"),
        (["--set", "hosts=5e7"], "pass --yes"),
        (["--experiment", "phase"], "give the folder with --plot DIR"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(args: list[str], message: str) -> None:
    code, output = invoke(*args)
    assert code == 2
    assert message in " ".join(output.split())
    assert "Traceback" not in output
