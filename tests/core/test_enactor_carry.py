"""An abandoned pass hands its unreached endpoints to the next pass (no starvation)."""

from __future__ import annotations

from zonewarden.core import enactor
from zonewarden.core.actions import AdvanceUnchanged, ApplyIfNewer, Behind, NewestIs, Outcomes
from zonewarden.core.enactor import EnactorConfig
from zonewarden.core.model import EndpointName, Generation
from zonewarden.core.outcomes import Outcome


class NoJitter:
    def random(self) -> float:
        return 0.0

    def uniform(self, a: float, b: float) -> float:
        return a


NAMES = tuple(EndpointName(f"e{i}.example.") for i in range(4))
CONFIG = EnactorConfig(batch_size=1)


def test_a_newer_plan_resumes_where_the_abandoned_pass_stopped() -> None:
    rng = NoJitter()
    state, _ = enactor.start("a")
    state, action = enactor.step(CONFIG, state, NewestIs(Generation(1)), rng)
    assert action == AdvanceUnchanged(Generation(1))
    state, action = enactor.step(CONFIG, state, Behind(NAMES), rng)
    assert action == ApplyIfNewer(Generation(1), NAMES[:1])
    state, _ = enactor.step(CONFIG, state, Outcomes({NAMES[0]: Outcome.APPLIED}), rng)
    # generation 2 arrived: the plan is abandoned, e1..e3 were never reached
    state, action = enactor.step(CONFIG, state, NewestIs(Generation(2)), rng)
    assert action == AdvanceUnchanged(Generation(2))
    state, action = enactor.step(CONFIG, state, Behind(NAMES), rng)
    assert action == ApplyIfNewer(Generation(2), NAMES[1:2])
    assert state.behind == (*NAMES[1:], NAMES[0])
    assert state.carry == ()
