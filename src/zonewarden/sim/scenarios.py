"""Named scenarios: the October 2025 incident and the swarm's random default.

The incident (architecture.md, incident.md section 2): three enactors, one regional plan
for four endpoints, a fast planner, slow DNS transactions, and enactor-1 losing every
lock race for the regional endpoint (`kv.us-east-1.example.`) until its plan is more
than `retention` generations behind what is live there, as enactor A did. Everything
else (latency jitter, back-off, plan contents) comes from the seed. Under `legacy` the
regional endpoint goes empty and every enactor stays stuck until the simulated
operator repairs it; under `safe` nothing breaks and the region converges.
"""

from __future__ import annotations

import random

from zonewarden.sim.faults import IncidentSkew, Knobs, random_knobs
from zonewarden.sim.world import RunReport, simulate

REGIONAL = "kv.us-east-1.example."
SCENARIOS = ("incident", "swarm")


def incident_knobs() -> Knobs:
    retention = 5
    skew = IncidentSkew(0.0, 30.0, target=0, endpoint=REGIONAL, generations=retention + 1)
    return Knobs(
        enactors=3,
        endpoints=4,
        duration=30.0,
        quiet=15.0,
        plan_interval=0.5,
        read_latency=0.005,
        write_latency=0.2,
        poll_interval=0.5,
        backoff_base=0.02,
        backoff_cap=0.1,
        retention=retention,
        keep_newest=3,
        batch_size=1,
        operator_repair_after=10.0,
        faults=(skew,),
    )


def swarm_knobs(seed: int) -> Knobs:
    return random_knobs(random.Random(f"{seed}/knobs"))


def knobs_for(scenario: str, seed: int) -> Knobs:
    if scenario == "incident":
        return incident_knobs()
    if scenario == "swarm":
        return swarm_knobs(seed)
    raise ValueError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")


def run_scenario(
    scenario: str, protocol: str, seed: int, *, trace: bool = False, samples: bool = False
) -> RunReport:
    return simulate(
        protocol, seed, knobs_for(scenario, seed), keep_trace=trace, keep_samples=samples
    )
