"""The external answer probe: resolve every endpoint like a client would, against one
or more DNS servers (ours or anyone's), and alert on what a client would suffer.

Findings per (server, endpoint, type): `ok`, `empty` (NOERROR without addresses: the
2025 outcome), `nxdomain`, `servfail` (or any other error rcode), `timeout`, `garbage`
(not a DNS answer to our question: unparsable, wrong id, another question), `differs`
(an address that neither the newest plan nor the live zone has), `marker-backwards` /
`serial-backwards` (backends/marker_watch.py). Everything but `ok` is an alert. With several servers, `agree` says whether they answered alike.

Rules kept here:
- `judge` is pure: it classifies one answer against the allowed addresses;
- questions go out over one UDP socket per server, many in flight, each reply matched by
  ID and question (backends/udp_asker.py): 10,000 names/s and more from one process;
- a server that times out or answers garbage costs its own findings, never the round;
- a subset of the plan's addresses is fine (servers may return a weighted subset).
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import dns.rcode

from zonewarden.backends.udp_asker import T_A, T_AAAA, Garbage, Outcome, Timeout, ask_many
from zonewarden.ports import RegionStore

log = logging.getLogger("zonewarden.probe")
ALERTS = frozenset(
    {"empty", "nxdomain", "servfail", "timeout", "garbage", "differs"}
    | {"marker-backwards", "serial-backwards"}  # backends/marker_watch.py
)


@dataclass(frozen=True, slots=True)
class Finding:
    server: str
    endpoint: str
    rtype: str
    result: str
    addresses: tuple[str, ...] = ()
    detail: str = ""

    @property
    def alert(self) -> bool:
        return self.result in ALERTS

    def as_json(self) -> dict[str, object]:
        return {
            "server": self.server,
            "endpoint": self.endpoint,
            "type": self.rtype,
            "result": self.result,
            "addresses": list(self.addresses),
            "detail": self.detail,
        }


def judge(rcode: int, addresses: Iterable[str], allowed: frozenset[str]) -> tuple[str, str]:
    """Classify one answer: (result, detail)."""
    if rcode == dns.rcode.NXDOMAIN:
        return "nxdomain", "the name does not exist at this server"
    if rcode != dns.rcode.NOERROR:
        return "servfail", f"rcode {dns.rcode.to_text(rcode)}"  # type: ignore[arg-type]
    got = set(addresses)
    if not got:
        return "empty", "NOERROR with no addresses: clients cannot connect"
    unknown = sorted(got - allowed)
    if unknown:
        return "differs", f"addresses not in the plan: {', '.join(unknown[:5])}"
    return "ok", ""


def intended(store: RegionStore) -> dict[tuple[str, str], frozenset[str]]:
    """Addresses each (endpoint, type) may answer: the newest plan's and the live zone's."""
    allowed: dict[tuple[str, str], set[str]] = {}
    newest = store.newest()
    sources = [store.contents(newest)] if newest else []
    sources.append({n: e.content for n, e in store.read_zone().items()})
    for contents in sources:
        for name, content in contents.items():
            for r in content.records:
                allowed.setdefault((str(name), str(r.rtype)), set()).add(r.address)
    return {k: frozenset(v) for k, v in allowed.items()}


def split_server(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not ADDR:PORT (e.g. 127.0.0.1:5353)")
    return host.strip("[]"), int(port)


def finding(server: str, name: str, rtype: str, outcome: Outcome, ok: frozenset[str]) -> Finding:
    """One question's outcome, judged."""
    if isinstance(outcome, Timeout):
        return Finding(
            server, name, rtype, "timeout", detail=f"no answer within {outcome.seconds:g}s"
        )
    if isinstance(outcome, Garbage):
        return Finding(server, name, rtype, "garbage", detail=outcome.detail)
    wanted = T_AAAA if rtype == "AAAA" else T_A
    found = [str(v) for v in outcome.values(wanted)]
    result, detail = judge(outcome.rcode, found, ok)
    return Finding(server, name, rtype, result, tuple(sorted(found)), detail)


async def probe_round(
    servers: Sequence[str],
    allowed: Mapping[tuple[str, str], frozenset[str]],
    *,
    timeout: float = 1.0,
    concurrency: int = 512,
) -> list[Finding]:
    """Ask every (endpoint, type) of `allowed` at every server once, all servers at
    once, up to `concurrency` questions in flight per server (backends/udp_asker.py)."""
    pairs = sorted(allowed.items())
    questions = [q for q, _ in pairs]

    async def one(server: str) -> list[Finding]:
        host, port = split_server(server)
        outcomes = await ask_many(host, port, questions, timeout=timeout, window=concurrency)
        return [
            finding(server, name, rtype, outcome, ok)
            for ((name, rtype), ok), outcome in zip(pairs, outcomes, strict=True)
        ]

    per_server = await asyncio.gather(*(one(s) for s in servers))
    return [f for i in range(len(pairs)) for f in (rows[i] for rows in per_server)]


def agreement(findings: Sequence[Finding]) -> dict[str, bool]:
    """Per endpoint: did every server give the same result and addresses?"""
    seen: dict[str, set[tuple[str, str, tuple[str, ...]]]] = {}
    by: dict[tuple[str, str], set[tuple[str, tuple[str, ...]]]] = {}
    for f in findings:
        by.setdefault((f.endpoint, f.rtype), set()).add((f.result, f.addresses))
        seen.setdefault(f.endpoint, set())
    return {ep: all(len(v) == 1 for (e, _), v in by.items() if e == ep) for ep in seen}


def post_webhook(url: str, payload: Mapping[str, object], timeout: float = 3.0) -> str | None:
    """POST one alert as JSON; returns an error message instead of raising."""
    body = json.dumps(payload).encode()
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status = int(resp.status)
        return None if 200 <= status < 300 else f"webhook answered HTTP {status}"
    except OSError as exc:
        return f"webhook {url} failed: {exc}"
