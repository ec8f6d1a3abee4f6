"""The removal budget: checked after the removal, partial grants, sliding windows."""

from __future__ import annotations

import pytest

from zonewarden.core.budget import (
    BudgetRule,
    RemovalBudget,
    Scope,
    removed_in_window,
    within_budget,
)

AZ = Scope("az", "az1")
EP = Scope("endpoint", "kv.example.")
RULES = {"az": BudgetRule(0.25, 300.0), "endpoint": BudgetRule(0.25, 300.0)}


def test_three_hosts_under_a_67_percent_cap_lose_at_most_two():
    """Envoy checked its cap before each ejection and ejected all three (issue 26877)."""
    rules = {"cluster": BudgetRule(0.67, 60.0)}
    cluster = Scope("cluster", "c")
    budget, removed = RemovalBudget(), 0.0
    for _ in range(3):
        got = budget.grant({cluster: 3.0}, want=1.0, now=0.0, rules=rules)
        budget = budget.spend([cluster], got, now=0.0)
        removed += got
    assert removed == pytest.approx(2.01)
    assert removed < 3.0
    whole = [budget.grant({cluster: 3.0}, 1.0, 0.0, rules) == 1.0]
    assert whole == [False]


def test_grant_fits_every_scope_it_touches():
    budget = RemovalBudget()
    # 100 units out of an AZ of 400 (25%) and an endpoint of 1200 (8%): the AZ binds
    got = budget.grant({AZ: 400.0, EP: 1200.0}, want=150.0, now=0.0, rules=RULES)
    assert got == pytest.approx(100.0)
    budget = budget.spend([AZ, EP], got, now=0.0)
    assert budget.grant({AZ: 400.0}, 1.0, 10.0, RULES) == 0.0
    assert budget.grant({EP: 1200.0}, 500.0, 10.0, RULES) == pytest.approx(200.0)


def test_the_window_slides():
    budget = RemovalBudget().spend([AZ], 100.0, now=0.0)
    assert budget.grant({AZ: 400.0}, 100.0, 299.0, RULES) == 0.0
    assert budget.grant({AZ: 400.0}, 100.0, 300.0, RULES) == pytest.approx(100.0)
    assert budget.refills_at(AZ, 10.0, RULES["az"]) == 300.0
    assert budget.pruned(301.0, RULES).spends == ()


def test_an_unruled_scope_kind_is_unlimited():
    assert RemovalBudget().grant({Scope("cell", "x"): 10.0}, 10.0, 0.0, {}) == 10.0


def test_gate_message_has_the_numbers():
    assert within_budget(100, 400, RULES["az"], AZ) is None
    msg = within_budget(240, 400, RULES["az"], AZ)
    assert msg == "capacity removal 60% exceeds limit 25% per 5 min for az az1 (240 of 400)"


def test_removed_in_window_counts_from_the_window_start():
    series = [(0.0, 400.0), (100.0, 300.0), (350.0, 200.0), (700.0, 100.0)]
    assert removed_in_window(series, 350.0, 300.0) == 200.0  # starts from 400 at t=0
    assert removed_in_window(series, 700.0, 300.0) == 100.0
    assert removed_in_window([], 0.0, 300.0) == 0.0


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        BudgetRule(1.5)
    with pytest.raises(ValueError, match="must be > 0"):
        BudgetRule(0.25, 0)
