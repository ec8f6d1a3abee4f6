"""Names checked per second by the answer probe (`zonewarden probe`'s resolver,
backends/answer_probe.probe_round) against one server, beside dnsperf as the peer load
generator, against ZoneWarden's embedded server and NSD serving the same zone.

    .venv/bin/python bench/probe_rate.py [--endpoints 20000] [--rounds 3] [--seconds 5]

The zone: `--endpoints` synthetic endpoints below bench.example. (A and AAAA), in a
SQLite store that `serve-dns` serves (RRL off, one process) and that `export zonefile`
writes for NSD (RRL off). Each server is pinned to core 1, the probe and dnsperf to
core 0. A probe round asks every (endpoint, type) of the plan once and checks each
answer (empty, NXDOMAIN, SERVFAIL, timeout, garbage, addresses outside the plan); the
bench fails if any answer is not `ok`, so a fast wrong probe cannot pass. dnsperf asks
the same (name, type) list for `--seconds` with 200 queries in flight and checks
nothing but the rcode. Reported per server: medians over `--rounds` of names/s, the
probe's CPU seconds per 10,000 names and dnsperf's, the server's CPU per 10,000
answers on each side, and probe/dnsperf ratios. Shared machine: quote the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dns_qps import ZONE, parse_summary, server, tree_cpu_seconds  # noqa: E402

from zonewarden.backends.answer_probe import intended, probe_round  # noqa: E402
from zonewarden.backends.embedded.synthetic import load, synthetic_contents  # noqa: E402
from zonewarden.stores.sqlite import SqliteStore  # noqa: E402

ZONEWARDEN = [str(Path(sys.executable).parent / "zonewarden")]


def build(workdir: Path, endpoints: int) -> tuple[Path, Path, Path, dict[Any, Any]]:
    store_path = workdir / "region.db"
    store = SqliteStore(store_path)
    load(store, synthetic_contents(endpoints, ZONE, seed=1))
    allowed = intended(store)
    store.close()
    zonefile = workdir / "bench.zone"
    argv = [*ZONEWARDEN, "export", "zonefile", "--store", str(store_path), "--zone", ZONE]
    subprocess.run([*argv, "--output", str(zonefile)], check=True)
    qfile = workdir / "queries.txt"
    with qfile.open("w") as f:
        for name, rtype in sorted(allowed):
            f.write(f"{name.rstrip('.')} {rtype}\n")
    return store_path, zonefile, qfile, allowed


def run_probe(port: int, allowed: dict[Any, Any], proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    server_before = tree_cpu_seconds(proc.pid)
    cpu, start = time.process_time(), time.perf_counter()
    findings = asyncio.run(probe_round([f"127.0.0.1:{port}"], allowed, timeout=2.0))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    server_cpu = tree_cpu_seconds(proc.pid) - server_before
    bad: dict[str, int] = {}
    for f in findings:
        if f.result != "ok":
            bad[f.result] = bad.get(f.result, 0) + 1
    n = len(findings)
    return {
        "names": n,
        "names_per_s": n / wall,
        "client_cpu_per_10k": 1e4 * cpu / n,
        "server_cpu_per_10k": 1e4 * server_cpu / n,
        "not_ok": bad,
    }


def run_dnsperf(
    port: int, qfile: Path, seconds: int, proc: subprocess.Popen[bytes]
) -> dict[str, Any]:
    server_before = tree_cpu_seconds(proc.pid)
    argv = ["taskset", "-c", "0", "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d"]
    argv += [str(qfile), "-T", "1", "-c", "1", "-q", "200", "-l", str(seconds)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    server_cpu = tree_cpu_seconds(proc.pid) - server_before
    row = parse_summary(out.stdout + f"\nClient CPU seconds: {used:.3f}\n")
    answered = row["sent"] - row["lost"]
    return {
        "names_per_s": row["qps"],
        "lost": row["lost"],
        "client_cpu_per_10k": 1e4 * used / answered if answered else float("nan"),
        "server_cpu_per_10k": 1e4 * server_cpu / answered if answered else float("nan"),
    }


def median(rows: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in rows), 3)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoints", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5, help="each dnsperf run")
    p.add_argument("--servers", default="zonewarden,nsd")
    args = p.parse_args()
    os.sched_setaffinity(0, {0})  # the probe: core 0, like dnsperf; servers on core 1
    kinds = args.servers.split(",")
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {
        k: {"probe": [], "dnsperf": []} for k in kinds
    }
    with tempfile.TemporaryDirectory(prefix="zw-probe-rate-") as tmp:
        workdir = Path(tmp)
        store, zonefile, qfile, allowed = build(workdir, args.endpoints)
        print(f"{len(allowed)} (name, type) pairs", flush=True)
        for round_no in range(args.rounds):
            for kind in kinds:
                with server(kind, store, zonefile, workdir, 1) as (port, proc):
                    probe = run_probe(port, allowed, proc)
                    peer = run_dnsperf(port, qfile, args.seconds, proc)
                rows[kind]["probe"].append(probe)
                rows[kind]["dnsperf"].append(peer)
                print(
                    f"round {round_no + 1} {kind}: probe {json.dumps(probe)} dnsperf {json.dumps(peer)}",
                    flush=True,
                )
    summary: dict[str, Any] = {"pairs": len(allowed), "rounds": args.rounds}
    for kind in kinds:
        pr, dp = rows[kind]["probe"], rows[kind]["dnsperf"]
        summary[kind] = {
            "probe_names_per_s": median(pr, "names_per_s"),
            "dnsperf_names_per_s": median(dp, "names_per_s"),
            "ratio": round(median(pr, "names_per_s") / median(dp, "names_per_s"), 2),
            "probe_cpu_s_per_10k": median(pr, "client_cpu_per_10k"),
            "dnsperf_cpu_s_per_10k": median(dp, "client_cpu_per_10k"),
            "server_cpu_s_per_10k_probe": median(pr, "server_cpu_per_10k"),
            "server_cpu_s_per_10k_dnsperf": median(dp, "server_cpu_per_10k"),
            "probe_not_ok": [r["not_ok"] for r in pr],
            "dnsperf_lost": [r["lost"] for r in dp],
        }
    summary["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps(summary, indent=2))
    failed = any(r["not_ok"] for k in kinds for r in rows[k]["probe"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
