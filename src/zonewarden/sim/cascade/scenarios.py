"""Named cascade scenarios: the published metastability results and the October 2025 chain.

| name | source | what it shows |
| --- | --- | --- |
| `bronson` | Bronson et al., HotOS 2021 | capacity 300/s, one retry after a 1 s timeout: a 10 s outage at 280/s leaves ~560 attempts/s and no goodput, for good; below ~150/s it recovers |
| `huang` | Huang et al., OSDI 2022 | the same retry-amplified loop swept over trigger size and load: a sharp boundary |
| `brooker` | Brooker, "Metastability and Distributed Systems" (2021) | service time 1 + 0.01 x concurrency s, timeout 3 s, 3 attempts, 5 s spike 40 -> 80/s: immediate retries stay collapsed; back-off with jitter recovers |
| `oct2025` | incident.md section 3 | DNS outage -> lease manager collapse -> network-state backlog -> health-check fail-over |
| `leases` | the lease stage alone | as oct2025, without the later stages (the phase diagram's model) |

Published numbers are used as published; every other parameter is an assumption,
listed in ASSUMPTIONS and in docs/cascade.md. Overrides (`--set name=value`) are
checked against the names each scenario knows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from zonewarden.sim.cascade.chain import ChainParams, ChainResult, run_chain
from zonewarden.sim.cascade.health import HealthParams
from zonewarden.sim.cascade.params import ParamError, ServiceParams
from zonewarden.sim.cascade.policies import Policy
from zonewarden.sim.cascade.service import ServiceModel, ServiceResult

Result = ServiceResult | ChainResult
NAMES = ("oct2025", "leases", "bronson", "huang", "brooker")

ASSUMPTIONS: dict[str, dict[str, str]] = {
    "bronson": {
        "workers": "one worker of 1/300 s (any W workers of W/300 s give the same capacity)",
        "arrivals": "Poisson at the offered load",
        "buffer": "the server queues at most 1500 attempts (5 s of work) and refuses more",
        "outage": "the server serves nothing for 10 s, starting at t = 30 s",
    },
    "huang": {"model": "the bronson model, swept over outage length and load"},
    "brooker": {
        "server": "processor sharing: each attempt progresses at 1/(1 + 0.01 c) per second",
        "backoff": "base 20 s, cap 200 s: a base of 5 s still collapses (docs/cascade.md)",
        "arrivals": "Poisson; spike at t = 60 s",
    },
    "oct2025": {
        "dns_outage": "published: 2 h 37 min (23:48 to 02:25 PDT)",
        "hosts, workers, establish_time, establish_timeout": "assumptions (AWS gave none)",
        "check_interval 300 s, lease_ttl 900 s": "'every few minutes' (incident.md)",
        "launches, network rate, health checks": "assumptions sized to show each stage",
    },
}


def bronson(load: float = 280.0, outage: float = 10.0, horizon: float = 300.0) -> ServiceParams:
    start = 30.0
    return ServiceParams(
        workers=1,
        service_time=1.0 / 300.0,
        timeout=1.0,
        max_attempts=2,
        retry_delay=0.0,
        buffer=1500,
        rates=((0.0, load),),
        outages=((start, start + outage),) if outage > 0 else (),
        trigger_end=start + outage,
        horizon=horizon,
        sample=1.0,
    )


def brooker(spike: float = 80.0, length: float = 5.0, horizon: float = 400.0) -> ServiceParams:
    start = 60.0
    return ServiceParams(
        workers=None,
        service_time=1.0,
        service_per_concurrency=0.01,
        timeout=3.0,
        max_attempts=3,
        retry_delay=0.0,
        backoff_base=20.0,
        backoff_cap=200.0,
        rates=((0.0, 40.0), (start, spike), (start + length, 40.0)),
        trigger_end=start + length,
        horizon=horizon,
        sample=1.0,
    )


def oct2025(**overrides: Any) -> ChainParams:
    return replace(ChainParams(), **overrides)


def leases_only(**overrides: Any) -> ChainParams:
    quiet = HealthParams(targets_per_az=1, capacity=1e9)
    base = ChainParams(launches_per_host=0.0, health=quiet, after=3600.0)
    return replace(base, **overrides)


SERVICE_KEYS: dict[str, dict[str, type]] = {
    "bronson": {"load": float, "outage": float, "horizon": float},
    "huang": {"load": float, "outage": float, "horizon": float},
    "brooker": {"spike": float, "length": float, "horizon": float},
}
CHAIN_KEYS: dict[str, type] = {
    "hosts": int,
    "workers": int,
    "establish_time": float,
    "establish_timeout": float,
    "check_interval": float,
    "lease_ttl": float,
    "dns_outage": float,
    "after": float,
    "sample": float,
    "backoff_base": float,
    "backoff_cap": float,
    "launches_per_host": float,
    "network_rate": float,
}


def known_keys(scenario: str) -> dict[str, type]:
    if scenario not in NAMES:
        raise ParamError("scenario", scenario, "one of " + ", ".join(NAMES))
    return SERVICE_KEYS.get(scenario, CHAIN_KEYS)


def parse_overrides(scenario: str, pairs: Mapping[str, str]) -> dict[str, Any]:
    """`{"hosts": "5000"}` -> `{"hosts": 5000}`, refusing unknown names and non-numbers."""
    keys = known_keys(scenario)
    out: dict[str, Any] = {}
    for name, text in pairs.items():
        kind = keys.get(name)
        if kind is None:
            raise ParamError(
                name, text, f"not a parameter of {scenario} (known: {', '.join(keys)})"
            )
        try:
            value = float(text)
        except ValueError:
            raise ParamError(name, text, f"must be a number ({kind.__name__})") from None
        if kind is int and not value.is_integer():
            raise ParamError(name, text, "must be a whole number")
        out[name] = int(value) if kind is int else value
    return out


def describe(scenario: str, overrides: Mapping[str, Any]) -> ServiceParams | ChainParams:
    """The parameters a run of `scenario` with `overrides` uses (checked)."""
    known_keys(scenario)
    params: ServiceParams | ChainParams
    if scenario in ("bronson", "huang"):
        params = bronson(**overrides)
    elif scenario == "brooker":
        params = brooker(**overrides)
    elif scenario == "leases":
        params = leases_only(**overrides)
    else:
        params = oct2025(**overrides)
    params.check()
    return params


def run(
    scenario: str,
    policy: Policy,
    seed: int,
    overrides: Mapping[str, Any] | None = None,
    progress: Callable[[float], None] | None = None,
) -> Result:
    params = describe(scenario, overrides or {})
    if isinstance(params, ChainParams):
        return run_chain(params, policy, seed, progress)
    return ServiceModel(params, policy, seed).run(progress)


def horizon_of(scenario: str, overrides: Mapping[str, Any] | None = None) -> float:
    params = describe(scenario, overrides or {})
    if isinstance(params, ChainParams):
        return params.dns_outage + params.after
    return params.horizon


def default_policies(scenario: str) -> tuple[str, ...]:
    if scenario == "brooker":
        return ("fifo-retry", "backoff-jitter")
    if scenario in ("bronson", "huang"):
        return ("fifo-retry", "retry-budget", "admission", "lifo", "deadline-drop")
    if scenario == "leases":
        return ("fifo-retry", "admission", "deadline-drop", "lifo", "backoff-jitter")
    return (
        "fifo-retry",
        "admission",
        "deadline-drop",
        "lifo",
        "admission+velocity",
        "admission+velocity+fail-open",
    )


def incident_outage(seed: int = 1, scale: float = 1.0) -> float:
    """The DNS outage of `sim incident --protocol legacy`: from the moment the regional
    record went empty to the simulated operator's repair, times `scale`.

    That run compresses the operator's response (the repair comes 10 virtual seconds
    after the record empties; in 2025 it took 2 h 37 min), so `scale` maps its seconds
    onto the lease manager's; with scale 1 few leases expire, which is a result too."""
    from zonewarden.sim.scenarios import run_scenario

    r = run_scenario("incident", "legacy", seed)
    if r.empty_from is None or r.repaired_at is None:
        raise ParamError("dns_outage", "incident", "the legacy incident run left no empty interval")
    return (r.repaired_at - r.empty_from) * scale
