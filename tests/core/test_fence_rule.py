"""The fence's table, row by row (the stores' agreement with it: tests/stores/test_fence.py)."""

from __future__ import annotations

import pytest

from zonewarden.core import fence
from zonewarden.core.fence import Lag, Live
from zonewarden.core.outcomes import Outcome

D, E = "digest-d", "digest-e"


@pytest.mark.parametrize(
    ("digest", "live", "valid", "frozen", "want"),
    [
        (D, None, True, True, Outcome.FROZEN),
        (None, Live(9, D), False, True, Outcome.FROZEN),  # frozen wins over everything
        (None, None, True, False, Outcome.MISSING_PLAN),
        (D, None, False, False, Outcome.REFUSED),
        (D, Live(6, D), False, False, Outcome.REFUSED),  # refused before fenced
        (D, Live(6, D), True, False, Outcome.FENCED_OUT),
        (D, Live(6, E), True, False, Outcome.FENCED_OUT),
        (D, Live(5, D), True, False, Outcome.CURRENT),
        (D, Live(5, E), True, False, Outcome.APPLIED),  # same generation: repair
        (D, Live(4, D), True, False, Outcome.APPLIED),
        (D, None, True, False, Outcome.APPLIED),
    ],
)
def test_decide(digest, live, valid, frozen, want):
    assert fence.decide(5, digest, live, valid=valid, frozen=frozen) is want


@pytest.mark.parametrize(
    ("live", "want"),
    [
        (None, Lag.BEHIND),
        (Live(4, D), Lag.UNCHANGED),
        (Live(4, D, has_records=False), Lag.BEHIND),
        (Live(4, E), Lag.BEHIND),
        (Live(5, D), Lag.DONE),
        (Live(5, E), Lag.BEHIND),
        (Live(6, E), Lag.DONE),
        (Live(6, D), Lag.DONE),
    ],
)
def test_lag(live, want):
    assert fence.lag(5, D, live) is want


def test_older():
    assert fence.older(None, 5) and fence.older(4, 5)
    assert not fence.older(5, 5) and not fence.older(6, 5)
