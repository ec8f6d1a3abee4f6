"""`zonewarden sim cascade`: JSON per policy, exit codes, one-line refusals."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zonewarden.cli.main import cli

pytestmark = pytest.mark.long  # simulated minutes of a service under load, per test


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


def test_the_dns_outage_can_come_from_the_legacy_incident_run() -> None:
    from zonewarden.sim.cascade.scenarios import incident_outage

    empty = incident_outage(seed=1)
    assert 5.0 < empty < 30.0  # the legacy run's empty-record interval, virtual seconds
    code, output = invoke(
        "--dns-outage",
        "incident",
        "--incident-scale",
        "942",
        "--set",
        "hosts=2000",
        "--set",
        "after=1800",
        "--policy",
        "admission+velocity",
        "--json",
    )
    assert code == 0
    body = json.loads(output)
    assert body["overrides"]["dns_outage"] == pytest.approx(empty * 942)
    assert body["policies"][0]["leases_expired"] == 2000  # 2.6 h: every lease ran out
    code, output = invoke("--dns-outage", "incident", "--set", "hosts=2000", "--json")
    assert json.loads(output)["policies"][0]["leases_expired"] == 0  # 10 s: none did


def test_plots_without_matplotlib_name_the_extra_before_running(tmp_path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    code, output = invoke("--scenario", "brooker", "--plot", str(tmp_path / "out"))
    assert code == 2
    assert "pip install 'zonewarden[plot]'" in " ".join(output.split())
    assert not (tmp_path / "out").exists()


def test_plots_are_written_as_png_and_csv(tmp_path) -> None:
    code, _ = invoke("--scenario", "brooker", "--set", "horizon=120", "--plot", str(tmp_path))
    assert code == 1  # fifo-retry collapses
    assert {p.name for p in tmp_path.iterdir()} == {
        "brooker-timeseries.png",
        "brooker-timeseries.csv",
    }
