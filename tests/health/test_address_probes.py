"""Every address of an LB is probed on its own, against real HTTP LBs on loopback (one
server per address, 127.0.x.y, the same port): an LB lives while one address answers,
a dead address leaves the LB's records within the removal budget; each beside its
control (one check per LB; no budget)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from zonewarden.core.checks import CheckTarget, ProbeSettings, address_checks
from zonewarden.core.health import QuorumRule
from zonewarden.core.model import Endpoint, EndpointName, LbId, LoadBalancer
from zonewarden.core.planner import TickInputs, plan_tick
from zonewarden.core.policy import LbHealth, PolicySettings, PolicyState, RegionIndex
from zonewarden.core.region import Region
from zonewarden.health.lbserver import LbServer
from zonewarden.health.prober import Prober
from zonewarden.health.source import ProbeHealth

pytestmark = pytest.mark.servers

FAST = ProbeSettings(interval=0.1, timeout=0.5, rise=2, fall=2)
NAME = EndpointName("kv.example.")


async def _servers(net: int, count: int) -> list[LbServer]:
    """`count` LB servers on 127.0.<net>.1.. sharing one free port (retried if taken)."""
    for _ in range(20):
        first = LbServer(f"127.0.{net}.1")
        await first.start()
        rest = [LbServer(f"127.0.{net}.{i + 2}", first.port) for i in range(count - 1)]
        try:
            for server in rest:
                await server.start()
        except OSError:
            for server in [first, *rest]:
                await server.kill()
            continue
        return [first, *rest]
    raise RuntimeError("no port free on every address")


async def _rounds(prober: Prober, lbs: list[LbId], rounds: int = 2) -> None:
    for _ in range(rounds):
        for lb in lbs:
            await prober.check_once(lb)


def test_every_address_is_probed_and_the_lb_lives_while_one_answers():
    async def run() -> tuple[list[object], str]:
        servers = await _servers(41, 2)
        try:
            lb = LoadBalancer(LbId("lb-1"), "az1", (servers[0].host, servers[1].host))
            check = CheckTarget.parse(f"http://{servers[0].host}:{servers[0].port}/health")
            prober = Prober("planner", {lb.id: address_checks(lb, check)}, FAST)
            seen: list[object] = []
            await _rounds(prober, [lb.id])
            seen.append(prober.report(0).readings[lb.id])
            await servers[1].kill()
            await _rounds(prober, [lb.id])
            seen.append(prober.report(0).readings[lb.id])
            await servers[0].kill()
            await _rounds(prober, [lb.id])
            seen.append(prober.report(0).readings[lb.id])
            return seen, servers[1].behaviour.host
        finally:
            for server in servers:
                await server.kill()

    (both, one, none), host = asyncio.run(run())
    a, b = "127.0.41.1", "127.0.41.2"
    assert both.healthy and set(both.addresses) == {a, b}
    assert one.healthy and one.addresses[a].healthy and not one.addresses[b].healthy
    assert "connect refused (fall 2/2)" in one.addresses[b].reason
    assert not none.healthy and not any(r.healthy for r in none.addresses.values())
    assert host.startswith(f"{a}:")  # the second address was asked for the check URL's host


def test_control_one_check_per_lb_calls_a_serving_lb_dead():
    """What probing only the check URL's address did: its first address dies while the
    second still serves, and the whole LB is called unhealthy (and would be drained)."""

    async def run() -> bool:
        servers = await _servers(42, 2)
        try:
            check = CheckTarget("http", servers[0].host, servers[0].port, "/health")
            prober = Prober("planner", {LbId("lb-1"): check}, FAST)
            await servers[0].kill()
            await _rounds(prober, [LbId("lb-1")])
            return prober.report(0).readings[LbId("lb-1")].healthy
        finally:
            for server in servers:
                await server.kill()

    assert asyncio.run(run()) is False


def _dead_addresses_left_out(settings: PolicySettings) -> tuple[int, int]:
    """Four LBs in one AZ, two addresses each, real servers; every LB's second address
    dies. Probe, combine, tick: (dead addresses the plan left out, addresses it kept)."""

    async def run() -> tuple[int, int]:
        nets = [await _servers(43 + i, 2) for i in range(4)]
        try:
            lbs = [
                LoadBalancer(LbId(f"lb-{i}"), "az1", tuple(s.host for s in servers))
                for i, servers in enumerate(nets)
            ]
            probes = {
                lb.id: address_checks(
                    lb, CheckTarget("http", lb.ipv4[0], servers[0].port, "/health")
                )
                for lb, servers in zip(lbs, nets, strict=True)
            }
            region = Region.build("r", "example.", lbs, [Endpoint(NAME, tuple(probes))])
            index = RegionIndex(region)
            prober = Prober("planner", probes, FAST)
            source = ProbeHealth(list(probes), QuorumRule(max_age=60.0), local=prober.report)
            await _rounds(prober, list(probes))
            first = plan_tick(TickInputs(index, {}, PolicyState(), 1.0, settings=settings))
            for servers in nets:
                await servers[1].kill()
            await _rounds(prober, list(probes))
            observed = source.observe(prober.report(0).at)
            health = {
                lb: LbHealth(o.healthy, o.capacity, o.reason, o.failing, o.down)
                for lb, o in observed.items()
            }
            d = plan_tick(
                TickInputs(index, health, first.state, 2.0, first.draft, settings=settings)
            )
            assert d.draft is not None, d.reasons
            served = {r.address for r in d.draft.endpoints[NAME].records}
            dead = {lb.ipv4[1] for lb in lbs}
            return len(dead - served), len(served - dead)
        finally:
            for servers in nets:
                for server in servers:
                    with contextlib.suppress(Exception):
                        await server.kill()

    return asyncio.run(run())


def test_dead_addresses_leave_the_plan_within_the_removal_budget():
    # the AZ has 400 of capacity, 25% per window is 100: two addresses of 50 each
    assert _dead_addresses_left_out(PolicySettings()) == (2, 4)


def test_control_without_the_budget_every_dead_address_leaves_at_once():
    off = PolicySettings(endpoint_budget=None, az_budget=None)
    assert _dead_addresses_left_out(off) == (4, 4)
