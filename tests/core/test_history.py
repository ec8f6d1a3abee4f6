"""Plan history retention: the newest `count` plans and plans younger than `age` are kept
from clean-up; retention never makes a plan a candidate the safety rules protect."""

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


def test_a_plan_is_kept_if_either_rule_keeps_it():
    assert candidates(History(age=350.0, count=8)) == (1, 2)
    assert candidates(History(age=950.0, count=2)) == ()


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
