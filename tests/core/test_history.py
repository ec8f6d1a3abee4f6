"""Plan history retention: the newest `count` plans younger than `age` are kept from
clean-up (a day or 1,000 plans, whichever is less, by default); retention never makes
a plan a candidate the safety rules protect."""

from __future__ import annotations

from tests.helpers import name

from zonewarden.core.cleanup import History, cleanup_candidates
from zonewarden.core.model import Generation

A = name("a")
GENS = [Generation(g) for g in range(1, 11)]
CREATED = {g: float(g * 100) for g in GENS}  # plan g published at t = 100 g


def candidates(history: History, now: float = 1000.0, applied=None) -> tuple[int, ...]:
    return cleanup_candidates(
        GENS,
        applied if applied is not None else {A: Generation(10)},
        [A],
        retention=0,
        keep_newest=1,
        history=history,
        created=CREATED,
        now=now,
    )


def test_without_history_everything_below_the_watermark_goes():
    assert candidates(History()) == tuple(range(1, 10))


def test_count_keeps_the_newest_plans():
    assert candidates(History(count=4)) == (1, 2, 3, 4, 5, 6)


def test_age_keeps_young_plans():
    # now = 1000: plans younger than 350 s are those published after t = 650 (g >= 7)
    assert candidates(History(age=350.0)) == (1, 2, 3, 4, 5, 6)


def test_a_plan_is_kept_while_both_rules_keep_it():
    # age keeps 7..10, count keeps 3..10: the history is 7..10 (the smaller reach)
    assert candidates(History(age=350.0, count=8)) == (1, 2, 3, 4, 5, 6)
    # age keeps 1..10, count keeps 9..10
    assert candidates(History(age=950.0, count=2)) == (1, 2, 3, 4, 5, 6, 7, 8)


def test_a_plan_of_unknown_age_is_kept():
    gens = cleanup_candidates(
        GENS,
        {A: Generation(10)},
        [A],
        retention=0,
        keep_newest=1,
        history=History(age=10.0),
        created={},
        now=1000.0,
    )
    assert gens == ()


def test_history_never_widens_what_the_safety_rules_allow():
    # A serves 3: 3 is referenced, and the watermark (3) bounds the candidates
    assert candidates(History(count=1), applied={A: Generation(3)}) == (1, 2)
    assert candidates(History(), applied={A: Generation(3)}) == (1, 2)


def test_a_generation_live_outside_the_newest_plan_is_never_a_candidate():
    """B left the newest plan but still serves plan 2: the watermark (over the newest
    plan's names) does not protect 2, the live-generation rule must."""
    b = name("b")
    applied = {A: Generation(5), b: Generation(2)}
    gens = [Generation(g) for g in range(1, 6)]
    found = cleanup_candidates(gens, applied, [A], retention=0, keep_newest=1)
    assert found == (1, 3, 4)
