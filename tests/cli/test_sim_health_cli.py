"""`zonewarden sim health`: the address model by default, JSON for scripts, the controls
exit 1, a bad combination of options is a usage error."""

from __future__ import annotations

import json

from click.testing import CliRunner

from zonewarden.cli.main import cli


def sim_health(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["sim", "health", *args])
    return result.exit_code, result.output


def test_one_seed_by_address_as_json_then_its_budget_off_control_fails():
    code, output = sim_health("--seeds", "1", "--start", "1", "--duration", "300", "--json")
    body = json.loads(output)
    assert code == 0, body
    assert body["model"] == "addresses" and body["failing"] == [] and body["plans"] > 0
    assert body["addresses"] > body["lbs"] > 0 and body["events"]
    code, output = sim_health(
        "--seeds", "1", "--start", "1", "--duration", "300", "--json", "--no-budget"
    )
    body = json.loads(output)
    assert code == 1 and body["failing"] == [1] and not body["budget"]
    assert "within 300 s" in body["violations"]["1"][0]


def test_the_lb_model_and_a_usage_error():
    code, output = sim_health("--seeds", "1", "--lbs", "--duration", "120")
    assert code == 0 and "1 seeds by LB: 0 failing" in output
    code, output = sim_health("--lbs", "--per-lb")
    assert code == 2 and "--per-lb is a control of the address model" in output
