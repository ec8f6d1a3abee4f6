import math

from zonewarden.resilience import metrics
from zonewarden.resilience.queueing import WorkQueue


def test_fifo_by_default_lifo_above_threshold() -> None:
    q: WorkQueue[int] = WorkQueue(lifo_above=3)
    for i in range(5):
        q.offer(math.inf, i)
    order = [q.take(0.0) for _ in range(5)]
    assert [e[1] for e in order if e] == [4, 3, 0, 1, 2]
    assert q.take(0.0) is None


def test_admission_refuses_past_max_depth() -> None:
    q: WorkQueue[int] = WorkQueue(max_depth=2, name="adm")
    assert [q.offer(math.inf, i) for i in range(4)] == [True, True, False, False]
    assert q.counters["refused-full"] == 2 and q.peak_depth == 2


def test_deadline_drop_skips_work_whose_caller_gave_up() -> None:
    q: WorkQueue[str] = WorkQueue(deadline_drop=True)
    q.offer(1.0, "late")
    q.offer(5.0, "fresh")
    assert q.take(2.0) == (5.0, "fresh")
    assert q.counters["dropped-expired"] == 1
    plain: WorkQueue[str] = WorkQueue()
    plain.offer(1.0, "late")
    assert plain.take(2.0) == (1.0, "late")  # without the switch, stale work is served


def test_clear_counts_and_metrics_registry_sees_every_component() -> None:
    q: WorkQueue[int] = WorkQueue(name="restart-test")
    for i in range(7):
        q.offer(math.inf, i)
    assert q.clear() == 7 and len(q) == 0
    snap = metrics.snapshot()
    assert snap["work-queue/restart-test"]["dropped-restart"] == 7


def test_deadline_margin_drops_work_that_cannot_finish_in_time() -> None:
    q: WorkQueue[str] = WorkQueue(deadline_drop=True, margin=2.0)
    q.offer(3.0, "too late to finish")
    q.offer(9.0, "fits")
    assert q.take(1.5) == (9.0, "fits")
    assert q.counters["dropped-expired"] == 1


def test_expire_drops_late_work_wherever_it_waits() -> None:
    q: WorkQueue[str] = WorkQueue(deadline_drop=True, lifo_above=0, name="expire")
    for deadline, item in [(5.0, "a"), (1.0, "b"), (9.0, "c"), (2.0, "d")]:
        q.offer(deadline, item)
    dropped: list[str] = []
    assert q.expire(3.0, lambda e: dropped.append(e[1])) == 2
    assert dropped == ["b", "d"]
    assert q.counters["dropped-expired"] == 2
    assert [q.take(3.0), q.take(3.0), q.take(3.0)] == [(9.0, "c"), (5.0, "a"), None]
    plain: WorkQueue[str] = WorkQueue(name="expire-off")
    plain.offer(1.0, "x")
    assert plain.expire(10.0) == 0 and len(plain) == 1  # no deadline_drop: kept
