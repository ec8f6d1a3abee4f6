"""The enactor process is loud about failures, once each: a refused key is one log line
and one audit event (not 79 silent retries), the heartbeat says `stalled` and why, and
the stall clears by itself; the protocol name fails closed."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from tests.helpers import content, draft

from zonewarden.core.enactor import EnactorConfig
from zonewarden.errors import BackendRejected, ConfigError, StoreUnavailable
from zonewarden.runtime.enactor import EnactorRunner
from zonewarden.stores.memory import MemoryStore

FAST = EnactorConfig(poll_interval=0.02, backoff_base=0.001, backoff_cap=0.01, stall_retry=0.1)


class Failing(MemoryStore):
    """A store whose writes fail with `error` while `failing` is set."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error, self.failing, self.attempts = error, True, 0

    def apply_if_newer(self, *args, **kwargs):
        if self.failing:
            self.attempts += 1
            raise self.error
        return super().apply_if_newer(*args, **kwargs)


async def run_for(runner: EnactorRunner, seconds: float, then=None) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await asyncio.sleep(seconds)
    if then is not None:
        then()
        await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 5)


def test_a_permanent_failure_is_logged_once_stalls_and_clears(caplog):
    store = Failing(BackendRejected("the server refuses the TSIG key zonewarden"))
    store.publish(draft(a=content("10.0.0.1")), source="t", actor="t", now=time.time())
    runner = EnactorRunner("az1", store, FAST)
    seen: dict[str, object] = {}

    def snapshot_then_fix() -> None:
        seen["beat"] = next(h for h in store.heartbeats() if h.actor == "az1")
        seen["attempts"] = store.attempts
        store.failing = False

    with caplog.at_level(logging.INFO, logger="zonewarden.enactor"):
        asyncio.run(run_for(runner, 0.6, snapshot_then_fix))
    errors = [r for r in caplog.records if "refuses the TSIG key" in r.getMessage()]
    assert [r.levelno for r in errors] == [logging.ERROR, logging.WARNING], caplog.text
    assert "permanent" in errors[0].getMessage() and "cleared after" in errors[1].getMessage()
    assert 2 <= seen["attempts"] <= 10  # retried slowly (every 0.1 s), not in a tight loop
    beat = seen["beat"]
    assert beat.phase == "stalled" and "BackendRejected" in beat.detail and " x" in beat.detail
    kinds = [e.kind for e in store.audit_log() if e.actor == "az1"]
    assert kinds.count("stalled") == 1 and kinds.count("failure-cleared") == 1, kinds
    assert store.read_zone()["a.example."].generation == 1  # cleared by itself
    final = next(h for h in store.heartbeats() if h.actor == "az1")
    assert final.phase != "stalled" and "BackendRejected" not in final.detail


def test_a_retryable_failure_waits_the_adapters_delay(caplog):
    store = Failing(StoreUnavailable("etcd: database space exceeded", delay=0.25))
    store.publish(draft(a=content("10.0.0.1")), source="t", actor="t", now=time.time())
    runner = EnactorRunner("az1", store, FAST)
    with caplog.at_level(logging.INFO, logger="zonewarden.enactor"):
        asyncio.run(run_for(runner, 0.6))
    assert store.attempts <= 4, store.attempts  # old: backoff_cap 0.01 s, dozens of tries
    lines = [r for r in caplog.records if "space exceeded" in r.getMessage()]
    assert len(lines) == 1 and "retryable" in lines[0].getMessage()


@pytest.mark.parametrize("protocol", ["Safe", "unsafe", "", "legacy "])
def test_an_unknown_protocol_is_an_error(protocol):
    with pytest.raises(ConfigError, match="unknown enactor protocol"):
        EnactorRunner("az1", MemoryStore(), FAST, protocol=protocol)
