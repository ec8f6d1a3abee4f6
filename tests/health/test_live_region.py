"""Real LBs on loopback, real planner, enactor and DNS server processes: what killing LBs
does to the DNS answers, with the removal budget and fail-static on, and off (controls)."""

from __future__ import annotations

import time

import pytest
from bench.health_region import Region

pytestmark = pytest.mark.servers

ALL = {f"127.0.{a}.{i}" for a in (1, 2, 3) for i in (1, 2, 3, 4)}
AZ1 = {f"127.0.1.{i}" for i in (1, 2, 3, 4)}
WINDOW = 3.0


@pytest.fixture
def region(tmp_path, request):
    keys = getattr(request, "param", {})
    r = Region(tmp_path / "region", planner_keys=keys)
    r.start()
    try:
        r.wait_answers(lambda a: a == ALL)
        yield r
    finally:
        r.stop()


def test_a_killed_lb_leaves_the_answers(region):
    region.lbs[0].kill()
    answers = region.wait_answers(lambda a: "127.0.1.1" not in a, timeout=10)
    assert answers == ALL - {"127.0.1.1"}
    store = region.store()
    causes = [e.detail for e in store.audit_log(limit=10_000) if e.kind == "cause"]
    assert any(
        d.startswith("lb-1a capacity 100->0: unhealthy: ") and "refused" in d for d in causes
    )
    store.close()


def test_a_killed_az_leaves_at_most_the_budget_per_window(region):
    for lb in region.az("az1"):
        lb.kill()
    killed_at = time.monotonic()
    removed_seen = []
    while time.monotonic() - killed_at < 3 * WINDOW + 2:
        answers = region.answers()
        if answers:
            removed = len(AZ1 - answers)
            elapsed = time.monotonic() - killed_at
            # one LB (25% of the AZ) per window, the first as soon as it is detected
            assert removed <= 1 + int(elapsed / WINDOW), (elapsed, answers)
            removed_seen.append(removed)
        time.sleep(0.05)
    assert max(removed_seen) >= 2  # the rest follows in later windows
    region.wait_answers(lambda a: not a & AZ1, timeout=3 * WINDOW)
    store = region.store()
    held = [e.detail for e in store.audit_log(limit=10_000) if e.kind == "held-back"]
    assert any(
        "removal budget 25% per 3 s of az az1: 100 of 100 used out of 400" in d for d in held
    )
    store.close()


@pytest.mark.parametrize("region", [{"removal_budget": False}], indirect=True)
def test_control_without_the_budget_a_killed_az_leaves_at_once(region):
    for lb in region.az("az1"):
        lb.kill()
    killed_at = time.monotonic()
    region.wait_answers(lambda a: not a & AZ1, timeout=10)
    assert time.monotonic() - killed_at < WINDOW  # all four inside one window


def test_every_lb_killed_changes_nothing_and_raises_fail_static(region):
    for lb in region.lbs:
        lb.kill()
    deadline = time.monotonic() + 4.0
    store = region.store()
    while time.monotonic() < deadline:
        assert region.answers() == ALL
        time.sleep(0.1)
    kinds = [e.kind for e in store.audit_log(limit=10_000)]
    assert "fail-static" in kinds
    alarms = [e.detail for e in store.audit_log(limit=10_000) if e.kind == "fail-static"]
    want = "12/12 load balancers (100%) fail at once, over the plausibility limit 50%"
    assert any(want in a for a in alarms), alarms
    beat = next(b for b in store.heartbeats() if b.actor == "planner")
    assert beat.phase == "fail-static"
    assert store.health_status()["fail_static"]
    store.close()


@pytest.mark.parametrize(
    "region",
    [{"removal_budget": False, "max_unhealthy_fraction": 1.0, "max_removal": 1.0}],
    indirect=True,
)
def test_control_without_fail_static_every_lb_killed_drains_to_the_floor(region):
    for lb in region.lbs:
        lb.kill()
    answers = region.wait_answers(lambda a: len(a) <= 4, timeout=10)
    assert len(answers) == 4  # 30% floor of 12 x 100: four LBs kept


def test_a_restarted_lb_returns_after_rise_and_hold_down(region):
    lb = region.lbs[5]
    lb.kill()
    region.wait_answers(lambda a: lb.host not in a, timeout=10)
    lb.start(region.root / f"{lb.id}.log")
    back = time.monotonic()
    region.wait_answers(lambda a: lb.host in a, timeout=10)
    assert time.monotonic() - back >= 1.0  # hold-down 1 s


def flap(region, half_period: float, seconds: float = 8.0) -> tuple[int, int, list[str]]:
    """Alternate one LB between healthy and 503; (entries, exits, causes) it caused."""
    from zonewarden.health.lbserver import control

    lb = region.lbs[2]
    address = f"{lb.host}:{lb.port}"
    store = region.store()
    start_gen = store.newest()
    started = time.monotonic()
    up = True
    while time.monotonic() - started < seconds:
        control(address, "ok" if up else "status", status=503)
        up = not up
        time.sleep(half_period)
    elapsed = time.monotonic() - started
    changes = [
        e.detail
        for e in store.audit_log(limit=100_000)
        if e.kind == "cause" and e.endpoint == lb.id and e.generation > start_gen
    ]
    entries = sum(1 for c in changes if "capacity 0->" in c)
    exits = sum(1 for c in changes if "->0:" in c)
    plans = store.newest() - start_gen
    print(
        f"flap every {half_period} s for {elapsed:.1f} s: {lb.id} left {exits}x, came back "
        f"{entries}x; {plans} plan(s) in all ({60 * plans / elapsed:.0f} per minute)"
    )
    store.close()
    return entries, exits, changes


@pytest.mark.parametrize(
    "region",
    [{"hold_down": 0.0, "deadband": 0.0, "removal_budget": False}],
    indirect=True,
    ids=["no-hysteresis-no-budget"],
)
def test_control_without_hysteresis_a_flapping_lb_churns(region):
    """The LB changes state only once the prober has seen its current one (each flap is
    seen, however loaded the box): without hysteresis, nearly every flap moves the plan.
    The same six flaps with hold-down on re-enter at most 3 times (1 s, 2 s, 4 s, ...)."""
    entries, _, changes = flap_seen(region, flaps=6)
    assert entries > 3, changes


def flap_seen(region, flaps: int, within: float = 40.0) -> tuple[int, int, list[str]]:
    """Flap one LB between 503 and healthy `flaps` times, each state held until the LB
    has answered `PER_STATE` probes in it; (entries, exits, causes) it caused."""
    from zonewarden.health.lbserver import control

    lb = region.lbs[2]
    address = f"{lb.host}:{lb.port}"
    store = region.store()
    start_gen = store.newest()
    started = time.monotonic()
    deadline = started + within
    for state in range(2 * flaps):
        mode = "ok" if state % 2 else "status"
        seen = int(control(address, mode, status=503)["served"]) + PER_STATE
        while int(control(address, mode)["served"]) < seen:
            assert time.monotonic() < deadline, f"{lb.id} probed too slowly: {state} states"
            time.sleep(0.05)
    changes = _causes(store, lb.id, start_gen)
    settle = time.monotonic() + 5.0  # the last re-entry's plan follows within a tick or two
    while time.monotonic() < settle and not (changes and "capacity 0->" in changes[-1]):
        time.sleep(0.1)
        changes = _causes(store, lb.id, start_gen)
    entries = sum(1 for c in changes if "capacity 0->" in c)
    exits = sum(1 for c in changes if "->0:" in c)
    print(
        f"{flaps} flaps seen by the prober in {time.monotonic() - started:.1f} s: "
        f"{lb.id} left {exits}x, came back {entries}x"
    )
    store.close()
    return entries, exits, changes


PER_STATE = 3  # rise = fall = 2: a third probe in a state means the prober saw the state


def _causes(store, lb_id: str, after: int) -> list[str]:
    return [
        e.detail
        for e in store.audit_log(limit=100_000)
        if e.kind == "cause" and e.endpoint == lb_id and e.generation > after
    ]


@pytest.mark.parametrize("half_period", [0.1, 1.0])
def test_a_flapping_lb_churns_no_more_than_rise_fall_and_damping_allow(region, half_period):
    """An LB alternating between healthy and 503 faster than rise/fall can settle may
    leave the plan, but each re-entry waits a hold-down doubled for every earlier exit
    (1 s, 2 s, 4 s, ...), so over 8 s it comes back at most 3 times; churn is reported."""
    entries, exits, changes = flap(region, half_period)
    assert entries <= 3 and exits <= entries + 1, changes


def test_sighup_reloads_a_good_config_and_refuses_a_bad_one(region):
    import signal

    planner = region.roles["planner"]
    good = region.config.read_text()
    region.config.write_text(good.replace("rise = 2", "rise = 0", 1))
    planner.send_signal(signal.SIGHUP)
    store = region.store()
    refused = wait_audit(store, "config-reload-refused")
    assert (
        f"{region.config} line" in refused
        and "rise" in refused
        and "0 is outside 1..100" in refused
    )
    region.config.write_text(good.replace("hold_down = 1.0", "hold_down = 2.0"))
    planner.send_signal(signal.SIGHUP)
    assert "config from" in wait_audit(store, "config-reload")
    assert planner.poll() is None  # still planning
    region.lbs[0].kill()
    region.wait_answers(lambda a: "127.0.1.1" not in a, timeout=10)
    store.close()


def wait_audit(store, kind: str, timeout: float = 10.0, contains: str = "") -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            e.detail
            for e in store.audit_log(limit=100_000)
            if e.kind == kind and contains in e.detail
        ]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no {kind!r} in the audit log within {timeout} s")


@pytest.fixture
def two_vantage_region(tmp_path, request):
    keys = getattr(request, "param", {"min_fresh": 2})
    r = Region(
        tmp_path / "region",
        health_keys={"vantage": "enactors", **keys},
        enactors=("az1", "az2"),
    )
    r.start()
    try:
        r.wait_answers(lambda a: a == ALL)
        yield r
    finally:
        r.stop()


def test_a_stopped_vantage_point_is_stale_evidence_and_changes_nothing(two_vantage_region):
    """The enactors are the health source: az2 stops (SIGSTOP) while az1 keeps applying.
    With two fresh vantage points required, the planner holds: a killed LB stays
    answered and the alarm names the stale vantage point."""
    import signal

    region = two_vantage_region
    region.roles["enactor-az2"].send_signal(signal.SIGSTOP)
    try:
        store = region.store()
        alarm = wait_audit(store, "fail-static", contains="stale: az2")
        assert "1 fresh vantage point(s), need 2" in alarm, alarm
        region.lbs[0].kill()
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            assert "127.0.1.1" in region.answers()
            time.sleep(0.1)
        store.close()
    finally:
        region.roles["enactor-az2"].send_signal(signal.SIGCONT)


@pytest.mark.parametrize("two_vantage_region", [{"min_fresh": 1}], indirect=True)
def test_control_one_fresh_vantage_point_is_enough_and_the_lb_leaves(two_vantage_region):
    import signal

    region = two_vantage_region
    region.roles["enactor-az2"].send_signal(signal.SIGSTOP)
    try:
        region.lbs[0].kill()
        region.wait_answers(lambda a: "127.0.1.1" not in a, timeout=15)
    finally:
        region.roles["enactor-az2"].send_signal(signal.SIGCONT)
