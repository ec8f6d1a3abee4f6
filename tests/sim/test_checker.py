"""The exhaustive checker: the legacy counterexample is found, safe has none."""

from __future__ import annotations

import pytest

from zonewarden.sim.checker import CheckSpec, check

# the most adversarial clean-up and one transaction per endpoint
TIGHT = {"retention": 1, "keep_newest": 1, "batch_size": 1}


def test_legacy_shortest_counterexample_is_the_incident() -> None:
    r = check(CheckSpec("legacy", 2, 1, 3, **TIGHT))
    assert not r.ok
    _, steps = r.counterexamples["I1"]
    text = [str(s) for s in steps]
    assert len(text) == 15
    # the slow enactor read generation 1 before the others moved on ...
    assert text[1] == "enactor-1: ReadNewest() -> NewestIs(g=1, frozen=False)"
    # ... wrote it over a newer one, and age-only clean-up deleted the live plan
    assert "LegacyWrite(g=1" in text[-2] and "APPLIED" in text[-2]
    assert text[-1].endswith("OlderDeleted(generations=(1,))")
    assert len(r.counterexamples["I3"][1]) < len(steps)


@pytest.mark.parametrize(
    ("enactors", "endpoints", "generations"),
    [(2, 1, 3), (2, 2, 4), pytest.param(3, 2, 3, marks=pytest.mark.long)],
)
def test_safe_holds_in_every_interleaving(enactors: int, endpoints: int, generations: int) -> None:
    safe = check(CheckSpec("safe", enactors, endpoints, generations, **TIGHT))
    assert safe.ok and safe.complete, safe.counterexamples
    legacy = check(CheckSpec("legacy", enactors, endpoints, generations, **TIGHT))
    assert not legacy.ok  # a test that cannot fail is not a test


@pytest.mark.long
def test_safe_with_runtime_defaults() -> None:
    r = check(CheckSpec("safe", 3, 3, 4))
    assert r.ok and r.complete and r.states > 10_000


def test_goal_any_stops_at_the_first_breach() -> None:
    r = check(CheckSpec("legacy", 2, 1, 3, goal="any", **TIGHT))
    assert set(r.counterexamples) == {"I3", "I5"}
