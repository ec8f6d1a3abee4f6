"""Records/s applied through the etcd store's fenced `apply_if_newer`, against a plain
etcd Txn loop on the same cluster, client and batch sizes, in the same run.

    python bench/etcd_apply.py                      # starts its own 3-member cluster
    python bench/etcd_apply.py --endpoints http://127.0.0.1:2379 --reps 7

fenced: one `apply_if_newer(g, batch)` per batch (a read of the batch's live keys, the
    freeze flag and the plan, then one Txn comparing them, writing the entries, the zone
    version and one audit row);
raw:    one Txn per batch with a mod_revision compare per key, writing the same bytes
    (what a client that trusts its last write would do: no read, no audit).
Both rounds are interleaved rep by rep so drift hits both; medians are reported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.stores.etcd_cluster import EtcdCluster, fresh_prefix

from zonewarden.core.model import (
    Content,
    EndpointName,
    Generation,
    LbId,
    PlanDraft,
    Policy,
    Record,
    RecordType,
)
from zonewarden.core.outcomes import Outcome
from zonewarden.stores.etcd import EtcdStore
from zonewarden.stores.etcd import ops as ec
from zonewarden.stores.etcd.keys import encode_zone

RECORDS = 8


def draft(names: list[EndpointName], round_: int) -> PlanDraft:
    def content(i: int) -> Content:
        return Content(
            60,
            Policy.WEIGHTED_MULTI,
            tuple(
                Record(RecordType.A, f"10.{round_ % 250}.{i % 250}.{r}", 10 + r, LbId(f"lb{r}"))
                for r in range(RECORDS)
            ),
        )

    return PlanDraft({n: content(i) for i, n in enumerate(names)})


def fenced_round(store: EtcdStore, names: list[EndpointName], batch: int, round_: int) -> float:
    plan = store.publish(draft(names, round_), source="bench", actor="bench", now=round_)
    started = time.perf_counter()
    for i in range(0, len(names), batch):
        out = store.apply_if_newer(plan.generation, names[i : i + batch], actor="b", now=round_)
        assert set(out.values()) == {Outcome.APPLIED}, out
    return time.perf_counter() - started


def raw_round(
    store: EtcdStore, names: list[EndpointName], batch: int, round_: int, mods: dict[str, int]
) -> float:
    """The same writes as a plain compare-and-put loop on the same client."""
    d = draft(names, round_)
    raw_key = {n: f"{store.keys.prefix}/raw/{n}".encode() for n in names}
    values = {n: encode_zone(Generation(round_), c) for n, c in d.endpoints.items()}
    started = time.perf_counter()
    for i in range(0, len(names), batch):
        chunk = names[i : i + batch]
        res = store.client.txn(
            [ec.compare_mod(raw_key[n], mods.get(n, 0)) for n in chunk],
            [ec.put(raw_key[n], values[n]) for n in chunk],
        )
        assert res.succeeded
        for n in chunk:
            mods[n] = res.revision
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", nargs="*", help="an existing cluster (default: start one)")
    parser.add_argument("--endpoint-count", type=int, default=120)
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 10, 60])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    cluster = None if args.endpoints else EtcdCluster().start()
    endpoints = args.endpoints or cluster.endpoints  # type: ignore[union-attr]
    try:
        store = EtcdStore(endpoints, prefix=fresh_prefix())
        names = [EndpointName(f"ep{i:04d}.bench.example.") for i in range(args.endpoint_count)]
        records = len(names) * RECORDS
        print(
            f"etcd 3-member cluster on loopback; {len(names)} endpoints x {RECORDS} records "
            f"per round; {args.reps} reps; medians"
        )
        print(f"{'batch':>6} {'fenced rec/s':>13} {'raw rec/s':>10} {'ratio':>6}")
        mods: dict[str, int] = {}
        round_ = 0
        for batch in args.batches:
            fenced, raw = [], []
            for _ in range(args.reps):
                round_ += 1
                fenced.append(records / fenced_round(store, names, batch, round_))
                raw.append(records / raw_round(store, names, batch, round_, mods))
            f, r = statistics.median(fenced), statistics.median(raw)
            print(f"{batch:>6} {f:>13,.0f} {r:>10,.0f} {f / r:>6.2f}")
        store.close()
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
