"""Record sets per second applied through each DNS backend, fenced, against the raw
rate of the same server driven directly, in the same run (issue 5).

For BIND 9, Knot and PowerDNS: `nsupdate -v` (TCP, TSIG) with 100 rrsets per UPDATE
and with 1 per UPDATE, versus ZoneWarden's RFC 2136 backend with the same batch sizes
(every endpoint: marker read, prerequisite + marker + records in the UPDATE, read-back),
both alone and through ExternalZoneRegion with an SQLite ledger (what enactors use).
Every rrset holds 8 A records and replaces an existing one. For Route 53 (moto_server):
raw boto3 UPSERT batches versus the fenced backend; `--moto exact` (default) runs moto
with Route 53's own batch checks, `--moto stock` as shipped (its DELETE check scans the
zone's whole change journal, so fenced batches slow down as history grows).
Medians of --reps runs.

    python bench/backends_apply.py [--rrsets 2000] [--single 200] [--reps 3] [--json]
        [--marker-type txt|cname]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.backends.servers import KEY_NAME, KEY_SECRET, STARTERS, ZONE, moto_client, start_moto

from zonewarden.backends.external import ExternalZoneRegion
from zonewarden.backends.rfc2136 import Rfc2136Backend
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
from zonewarden.stores.sqlite import SqliteStore


def contents(prefix: str, count: int, gen: int) -> dict[EndpointName, Content]:
    out = {}
    for i in range(count):
        recs = tuple(
            Record(
                RecordType.A,
                f"10.{gen % 200}.{i // 250}.{j + 1}",
                10,
                LbId(f"lb{j}"),
            )
            for j in range(8)
        )
        out[EndpointName(f"{prefix}{i}.{ZONE}")] = Content(60, Policy.WEIGHTED_MULTI, recs)
    return out


def nsupdate(port: int, data: dict[EndpointName, Content], batch: int) -> float:
    lines = [f"server 127.0.0.1 {port}", f"zone {ZONE}"]
    for k, (name, c) in enumerate(data.items(), 1):
        lines.append(f"update delete {name} A")
        lines += [f"update add {name} {c.ttl} A {r.address}" for r in c.records]
        if k % batch == 0 or k == len(data):
            lines.append("send")
    script = "\n".join(lines) + "\n"
    key = f"hmac-sha256:{KEY_NAME}:{KEY_SECRET}"
    t = time.perf_counter()
    subprocess.run(["nsupdate", "-v", "-y", key], input=script.encode(), check=True)
    return len(data) / (time.perf_counter() - t)


def fenced(backend: Rfc2136Backend, data: dict[EndpointName, Content], gen: int) -> float:
    t = time.perf_counter()
    out = backend.apply_fenced(Generation(gen), data)
    rate = len(data) / (time.perf_counter() - t)
    assert set(out.values()) == {"applied"}, set(out.values())
    return rate


def via_region(region: ExternalZoneRegion, data: dict[EndpointName, Content], batch: int) -> float:
    plan = region.publish(PlanDraft(data), source="bench", actor="bench", now=0.0)
    names = list(data)
    t = time.perf_counter()
    for i in range(0, len(names), batch):
        out = region.apply_if_newer(plan.generation, names[i : i + batch], actor="b", now=0.0)
        assert set(out.values()) == {"applied"}, set(out.values())
    return len(data) / (time.perf_counter() - t)


def bench_server(kind: str, args: argparse.Namespace, workdir: Path) -> list[dict[str, object]]:
    run = STARTERS[kind](workdir / kind)
    rows = []
    try:
        backend = Rfc2136Backend(
            run.server,
            ZONE,
            port=run.port,
            tsig_name=KEY_NAME,
            tsig_secret=KEY_SECRET,
            timeout=30.0,
            marker_type=args.marker_type,
        )
        region = ExternalZoneRegion(SqliteStore(workdir / f"{kind}.db"), backend)
        for batch, count in ((100, args.rrsets), (1, args.single)):
            backend.batch_size = batch
            raw, alone, ledger = [], [], []
            # names written once first, so every measured write replaces live rrsets
            for prefix in ("r", "f"):
                backend.apply_fenced(Generation(1), contents(f"{prefix}{batch}-", count, 1))
            via_region(region, contents(f"l{batch}-", count, 1), 100)  # the ledger knows them
            for rep in range(args.reps):
                gen = 2 + rep
                raw.append(nsupdate(run.port, contents(f"r{batch}-", count, gen), batch))
                alone.append(fenced(backend, contents(f"f{batch}-", count, gen), 10 * gen))
                ledger.append(via_region(region, contents(f"l{batch}-", count, gen), batch))
            med = statistics.median
            rows.append(
                {
                    "server": f"{kind} ({args.marker_type} marker)",
                    "batch": batch,
                    "rrsets": count,
                    "raw": round(med(raw)),
                    "fenced": round(med(alone)),
                    "region": round(med(ledger)),
                    "ratio": round(med(alone) / med(raw), 2),
                    "region_ratio": round(med(ledger) / med(raw), 2),
                }
            )
            print(rows[-1], file=sys.stderr)
        region.close()
    finally:
        run.stop()
    return rows


def bench_route53(args: argparse.Namespace, workdir: Path) -> list[dict[str, object]]:
    """Endpoints/s written to moto, two phases: create (new names) and replace (every
    address changes, so 8 weighted sets go and 8 come per endpoint). Raw: boto3 batches
    of 40 endpoints with no read and no marker (UPSERT new sets, DELETE old ones).
    Fenced: `Route53Backend.apply_fenced` (zone listing, exact marker DELETE + CREATE in
    every batch). Each side writes its own hosted zone, so both lists equal zones."""
    from zonewarden.backends.route53 import Route53Backend

    run = start_moto(workdir / "moto", exact=args.moto == "exact")
    rows = []
    try:
        client = moto_client(run)
        count, zones = args.route53, itertools.count()

        def new_zone() -> str:
            made = client.create_hosted_zone(Name=ZONE, CallerReference=f"b{next(zones)}")
            return str(made["HostedZone"]["Id"])

        rates: dict[str, list[float]] = {}
        for rep in range(args.reps):
            raw_zone = new_zone()
            backend = Route53Backend(new_zone(), ZONE, client=client, batch_size=40)
            backend.apply_fenced(Generation(1), contents("w", 1, 1))  # warm-up: probes moto
            # what enactors use: an SQLite ledger first, its previous entry as the hint
            in_region = Route53Backend(new_zone(), ZONE, client=client, batch_size=40)
            in_region.apply_fenced(Generation(1), contents("w", 1, 1))
            region = ExternalZoneRegion(SqliteStore(workdir / f"r53-{rep}.db"), in_region)
            for phase, (old, gen) in {"create": (0, 1), "replace": (1, 2)}.items():
                data = contents(f"n{rep}-", count, gen)
                before = contents(f"n{rep}-", count, old) if old else {}
                t = time.perf_counter()
                _raw_r53(client, raw_zone, before, data)
                rates.setdefault(f"{phase} raw", []).append(count / (time.perf_counter() - t))
                t = time.perf_counter()
                backend.apply_fenced(Generation(gen), data)
                rates.setdefault(phase, []).append(count / (time.perf_counter() - t))
                rates.setdefault(f"{phase} region", []).append(via_region(region, data, 40))
            region.close()
        for phase in ("create", "replace"):
            raw, rate, reg = (
                statistics.median(rates[k]) for k in (f"{phase} raw", phase, f"{phase} region")
            )
            rows.append(
                {
                    "server": f"Route 53 (moto {args.moto}), endpoints of 8 sets, {phase}",
                    "batch": 40,
                    "rrsets": count,
                    "raw": round(raw),
                    "fenced": round(rate),
                    "region": round(reg),
                    "ratio": round(rate / raw, 2),
                    "region_ratio": round(reg / raw, 2),
                }
            )
            print(rows[-1], file=sys.stderr)
    finally:
        run.stop()
    return rows


def _raw_r53(
    client: Any,
    zone_id: str,
    before: dict[EndpointName, Content],
    after: dict[EndpointName, Content],
) -> None:
    def rrset(name: str, r: Record) -> dict[str, object]:
        return {
            "Name": name,
            "Type": "A",
            "SetIdentifier": f"{r.lb}/{r.address}",
            "Weight": r.weight,
            "TTL": 60,
            "ResourceRecords": [{"Value": r.address}],
        }

    names = list(after)
    for i in range(0, len(names), 40):
        changes = [
            {"Action": "UPSERT", "ResourceRecordSet": rrset(n, r)}
            for n in names[i : i + 40]
            for r in after[n].records
        ]
        changes += [
            {"Action": "DELETE", "ResourceRecordSet": rrset(n, r)}
            for n in names[i : i + 40]
            if n in before
            for r in before[n].records
        ]
        client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rrsets", type=int, default=2000, help="rrsets per run, 100/message")
    parser.add_argument("--single", type=int, default=200, help="rrsets per run, 1/message")
    parser.add_argument("--route53", type=int, default=200, help="endpoints for moto (0: skip)")
    parser.add_argument(
        "--moto",
        choices=["exact", "stock"],
        default="exact",
        help="moto with Route 53's batch checks (tests/backends/moto_exact.py) or as shipped",
    )
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--servers", default="bind,knot,pdns")
    parser.add_argument(
        "--marker-type", default="cname", choices=("txt", "cname"), help="Rfc2136Backend's marker"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in filter(None, args.servers.split(",")):
            rows += bench_server(kind, args, Path(tmp))
        if args.route53:
            rows += bench_route53(args, Path(tmp))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        "| server | rrsets/msg | raw rrsets/s | fenced backend | ratio | via region (SQLite ledger) | ratio |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['server']} | {r['batch']} | {r['raw']:,} | {r['fenced']:,} | {r['ratio']}x | "
            + (
                f"{r['region']:,} | {r['region_ratio']}x |"
                if r["region"] is not None
                else "- | - |"
            )
        )


if __name__ == "__main__":
    main()
