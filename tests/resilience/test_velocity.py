from zonewarden.core.budget import BudgetRule, Scope
from zonewarden.resilience.velocity import VelocityLimiter


def test_velocity_grants_within_the_core_rule_and_refills_after_the_window() -> None:
    v = VelocityLimiter({"az": BudgetRule(fraction=0.25, window=300.0)}, name="t")
    az1 = {Scope("az", "az1"): 400.0}
    assert v.remove(az1, 80.0, now=0.0) == 80.0
    assert v.remove(az1, 80.0, now=10.0) == 20.0  # 100 of 400 is the limit
    assert v.remove(az1, 50.0, now=20.0) == 0.0
    assert v.held_back == 110.0
    assert v.counters.snapshot() == {
        "removals-granted": 1,
        "removals-held": 1,
        "removals-partial": 1,
    }
    assert v.remove(az1, 50.0, now=301.0) == 50.0  # the first spend left the window


def test_without_rule_everything_is_removed_at_once() -> None:
    # the control: a limiter with no rule for the scope kind limits nothing
    v = VelocityLimiter({}, name="off")
    assert v.remove({Scope("az", "az1"): 400.0}, 400.0, now=0.0) == 400.0
