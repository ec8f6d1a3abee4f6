"""What plan history costs: bytes per kept generation when each plan changes 1% of the
endpoints, and the publish and clean-up rates, per store, in one run.

    python bench/plan_history.py [--endpoints 5000] [--generations 40] [--failovers 3]
                                 [--no-etcd] [--json]

Each store gets a synthetic region (backends/embedded/synthetic.py, ~8 records per
endpoint), published and applied once; then `--generations` plans, each replacing the
content of 1% of the endpoints, are published (timed). Reported per store: the bytes a
generation adds (SQLite: the file's growth after a checkpoint, and the logical bytes of
its rows; etcd: the logical key + value bytes of its plan keys: headers, maps, contents,
span starts, and the db pages in use after a compaction: what etcd's quota counts),
beside what a store that
copied every endpoint's content into every plan would keep (the plan's canonical JSON),
and the publish and clean-up rates (clean-up deletes all but the newest plan, timed),
and, after the history is measured, the publish time of `--failovers` plans in which
every endpoint's content changes (what an AZ failover publishes).
Bounded: one region, a fixed number of plans; an etcd member started and stopped here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zonewarden.backends.embedded.synthetic import load, synthetic_contents
from zonewarden.core.model import Content, EndpointName, PlanDraft, Record


def changed(contents: dict[EndpointName, Content], step: int) -> dict[EndpointName, Content]:
    """1% of the endpoints get a new first address (a different one each step)."""
    names = sorted(contents)
    count = max(1, len(names) // 100)
    out = dict(contents)
    for k in range(count):
        name = names[(step * count + k) % len(names)]
        c = contents[name]
        first = c.records[0]
        octet = 1 + (step % 250)
        addr = f"192.0.2.{octet}" if first.rtype == "A" else f"2001:db8:ffff::{octet:x}"
        records = (Record(first.rtype, addr, first.weight, first.lb), *c.records[1:])
        out[name] = Content(ttl=c.ttl, policy=c.policy, records=records)
    return out


def reweighted(c: Content, step: int) -> Content:
    """The same records with every weight moved: a new content for every endpoint."""
    records = tuple(Record(r.rtype, r.address, r.weight + step, r.lb) for r in c.records)
    return Content(ttl=c.ttl, policy=c.policy, records=records)


def plan_json_bytes(contents: dict[EndpointName, Content]) -> int:
    return len(
        json.dumps(
            {
                n: [c.ttl, str(c.policy), [r.as_json() for r in c.records]]
                for n, c in contents.items()
            },
            separators=(",", ":"),
        )
    )


def server_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the given processes used so far (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_store(
    kind: str,
    store: Any,
    measure: Any,
    args: argparse.Namespace,
    pids: list[int] | None = None,
    physical: Any = None,
) -> dict[str, Any]:
    contents = synthetic_contents(args.endpoints)
    load(store, contents, now=0.0)
    base = measure()
    base_physical = physical() if physical else 0
    publish_s: list[float] = []
    cpu0, server0 = time.process_time(), server_cpu(pids or [])
    for step in range(1, args.generations + 1):
        contents = changed(contents, step)
        started = time.perf_counter()
        store.publish(PlanDraft(contents), source="bench", actor="bench", now=float(step))
        publish_s.append(time.perf_counter() - started)
    publish_cpu = time.process_time() - cpu0
    publish_server_cpu = server_cpu(pids or []) - server0
    grown = measure()
    grown_physical = physical() if physical else 0
    failover_s: list[float] = []  # plans where every endpoint changes (an AZ failover)
    for step in range(1, args.failovers + 1):
        contents = {n: reweighted(c, step) for n, c in contents.items()}
        started = time.perf_counter()
        store.publish(PlanDraft(contents), source="bench", actor="bench", now=1e5 + step)
        failover_s.append(time.perf_counter() - started)
    gens = list(store.index().generations)
    started = time.perf_counter()
    result = store.delete_unreferenced(gens[:-1], actor="bench", now=1e6)
    cleanup_s = time.perf_counter() - started
    deleted = len(result.deleted)
    left = measure()
    problems = store.content_problems() if hasattr(store, "content_problems") else []
    return {
        "store": kind,
        "endpoints": args.endpoints,
        "generations": args.generations,
        "bytes_per_generation": round((grown - base) / args.generations),
        "full_copy_bytes_per_generation": plan_json_bytes(contents),
        "publish_median_s": round(statistics.median(publish_s), 4),
        "publishes_per_s": round(1 / statistics.median(publish_s), 1),
        "cleanup_deleted": deleted,
        "cleanup_plans_per_s": round(deleted / cleanup_s, 1) if cleanup_s else None,
        "bytes_after_cleanup": left,
        "db_bytes_per_generation": round((grown_physical - base_physical) / args.generations)
        if physical
        else None,
        "all_changed_publish_median_s": round(statistics.median(failover_s), 4)
        if failover_s
        else None,
        "publish_client_cpu_s_per_plan": round(publish_cpu / args.generations, 4),
        "publish_server_cpu_s_per_plan": round(publish_server_cpu / args.generations, 4)
        if pids
        else None,
        "content_problems": problems,
    }


def sqlite_run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from zonewarden.stores.sqlite import SqliteStore

    path = root / "history.db"
    store = SqliteStore(path)

    def measure() -> int:
        db = store._db
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    try:
        out = run_store("sqlite", store, measure, args)
        rows = store._db.execute(
            "SELECT sum(8 + length(name) + length(digest)) FROM plan_endpoints WHERE gen = ?",
            (int(store.newest()),),
        ).fetchone()[0]
        out["logical_reference_bytes_per_generation"] = rows
        return out
    finally:
        store.close()


def etcd_run(args: argparse.Namespace) -> dict[str, Any]:
    from tests.stores.etcd_cluster import EtcdCluster, fresh_prefix

    from zonewarden.stores.etcd import EtcdStore
    from zonewarden.stores.etcd import ops as ec

    cluster = EtcdCluster(size=1).start()
    try:
        prefix = fresh_prefix()
        store = EtcdStore(cluster.endpoints, prefix=prefix)

        k = store.keys
        # every key plans keep (the content-addressed layout's, and schema 2's per-plan
        # copies: the names that exist in the store being measured, so the same bench
        # measures the layout before and after)
        names = ("plans", "plan_map_roots", "plan_endpoint_roots", "blobs", "starts")
        plan_prefixes = [getattr(k, n) for n in (*names, "all_refs", "gc_queue") if hasattr(k, n)]

        def range_bytes(prefix: bytes) -> int:
            total, start, end = 0, prefix, ec.prefix_end(prefix)
            while True:
                op = {"request_range": {"key": ec.b64(start), "range_end": ec.b64(end)}}
                op["request_range"]["limit"] = "2000"
                kvs = store.client.read([op]).ranges[0]
                total += sum(len(kv.key) + len(kv.value) for kv in kvs)
                if len(kvs) < 2000:
                    return total
                start = kvs[-1].key + b"\0"

        def physical() -> int:
            # what counts against etcd's quota: the db's pages in use once every
            # superseded revision is compacted away
            rev = store._read([ec.get(k.schema)])[0]
            store.client.call(
                "/v3/kv/compaction", {"revision": str(rev), "physical": True}, timeout=120
            )
            status = store.client.call("/v3/maintenance/status", {}, idempotent=True)
            return int(status.get("dbSizeInUse") or status.get("dbSize") or 0)

        def measure() -> int:
            # the key + value bytes of everything plans keep: headers, maps, contents,
            # span starts and their refs (and schema 2's per-plan copies, if any), read
            # in pages (one range of a whole prefix can time out)
            return sum(range_bytes(prefix) for prefix in plan_prefixes)

        try:
            pids = [p.pid for p in cluster.procs if p is not None]
            return run_store("etcd", store, measure, args, pids, physical)
        finally:
            store.close()
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--endpoints", type=int, default=5000)
    p.add_argument("--generations", type=int, default=40)
    p.add_argument("--failovers", type=int, default=3, help="plans changing every endpoint")
    p.add_argument("--no-etcd", action="store_true")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    import tempfile

    results = []
    with tempfile.TemporaryDirectory(prefix="zw-history-") as tmp:
        results.append(sqlite_run(args, Path(tmp)))
    if not args.no_etcd:
        results.append(etcd_run(args))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(
                f"{r['store']}: {r['bytes_per_generation']:,} B per generation "
                f"(full copy {r['full_copy_bytes_per_generation']:,} B), "
                f"publish {r['publish_median_s']} s median, "
                f"clean-up {r['cleanup_plans_per_s']} plans/s ({r['cleanup_deleted']} deleted)"
            )
        if len(results) == 2:
            sq, et = results
            ratio = et["bytes_per_generation"] / max(1, sq["bytes_per_generation"])
            print(f"etcd / SQLite bytes per generation: {ratio:.2f}")
    problems = [p for r in results for p in r["content_problems"]]
    for problem in problems:
        print(f"content problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
