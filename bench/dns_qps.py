"""Queries per second: ZoneWarden's embedded server vs NSD and Knot, side by side.

All three serve the same synthetic zone (default 50,000 endpoints below bench.example.,
~8 addresses each), ZoneWarden from a SQLite store via `zonewarden serve-dns` (one
process), NSD and Knot from the zone file `zonewarden export zonefile` wrote from that
store. Each server is pinned to one core and dnsperf to the other, with the same
settings (`-T 1 -c 8 -q 200 -l 15` by default), `--rounds` times in turn; the medians
are reported with the ratio to NSD. Each server's CPU time (its whole process tree,
from /proc) during the run is reported too, as answers per CPU-second: on a machine
shared with other work, where a pinned core is not a reserved core, that figure says
how much work each server needs per query independently of how much CPU it was given. qps and loss come from a plain run; latency
percentiles (p50, p99) from a separate, shorter `dnsperf -v` run at the same settings,
since printing every answer slows dnsperf itself.

Response rate limiting is turned off on every side, and the report says so: dnsperf
sends everything from one address, which is exactly what RRL (on by default in
ZoneWarden and in NSD) exists to limit, so leaving it on would measure the limiter.

Saturation: each row also gives the share of its pinned core each server and dnsperf
used (CPU seconds / wall seconds). A run where the server used well under its core
while dnsperf used all of its own was limited by the load generator, not by the server:
the report marks such rows "client-bound" and their qps says nothing about the server's
ceiling (answers per CPU-second still does).

`--tcp` measures over TCP instead (dnsperf -m tcp, 1,000 clients and 2,000 queries in flight by default): the
connection caps are raised on both sides so that every client gets a connection
(ZoneWarden `--dns tcp_max_connections=2000 --dns tcp_max_per_source=2000`, NSD
`tcp-count: 2000`), and Knot is left out unless named.

    python bench/dns_qps.py [--endpoints 50000] [--seconds 15] [--rounds 3]
    python bench/dns_qps.py --tcp [--clients 1000] --servers zonewarden,nsd
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dns.peer_servers import free_port, peer_process, wait_for_answer  # noqa: E402

from zonewarden.backends.embedded.synthetic import load, synthetic_contents  # noqa: E402
from zonewarden.stores.sqlite import SqliteStore  # noqa: E402

ZONE = "bench.example."
ZONEWARDEN = [str(Path(sys.executable).parent / "zonewarden")]


def build(workdir: Path, endpoints: int, queries: int) -> tuple[Path, Path, Path]:
    store_path = workdir / "region.db"
    store = SqliteStore(store_path)
    contents = synthetic_contents(endpoints, ZONE, seed=1)
    load(store, contents)
    store.close()
    zonefile = workdir / "bench.zone"
    subprocess.run(
        [
            *ZONEWARDEN,
            "export",
            "zonefile",
            "--store",
            store_path,
            "--zone",
            ZONE,
            "--output",
            zonefile,
        ],
        check=True,
    )
    names = sorted(contents)
    import random

    rng = random.Random(3)
    qfile = workdir / "queries.txt"
    with qfile.open("w") as f:
        for _ in range(queries):
            name = rng.choice(names)
            types = sorted({str(r.rtype) for r in contents[name].records})
            f.write(f"{name.rstrip('.')} {rng.choice(types)}\n")
    return store_path, zonefile, qfile


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process `root` and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(times.get(pid, 0.0) for pid in tree)


TCP_CAPS = ["--dns", "tcp_max_connections=2000", "--dns", "tcp_max_per_source=2000"]


@contextmanager
def zonewarden(
    store: Path, workdir: Path, cpu: int, tcp: bool = False
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    log = (workdir / "zonewarden.out").open("wb")
    argv = ["taskset", "-c", str(cpu), *ZONEWARDEN]
    argv += ["serve-dns", "--store", str(store), "--zone", ZONE]
    argv += ["--listen", f"127.0.0.1:{port}", "--processes", "1", "--rrl-rate", "0"]
    argv += TCP_CAPS if tcp else []
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_answer(port, ZONE, 120.0, proc)
        yield port, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def dnsperf(port: int, qfile: Path, args: argparse.Namespace, *, verbose: bool) -> str:
    seconds = max(3, args.seconds // 3) if verbose else args.seconds
    argv = ["taskset", "-c", str(args.client_cpu), "dnsperf", "-s", "127.0.0.1"]
    argv += ["-p", str(port), "-d", str(qfile), "-T", "1", "-c", str(args.clients)]
    argv += ["-q", str(args.outstanding), "-l", str(seconds)] + (["-v"] if verbose else [])
    argv += ["-m", "tcp"] if args.tcp else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out.stdout + f"\nClient CPU seconds: {used:.3f}\n"


def parse_summary(text: str) -> dict[str, float]:
    def grab(pattern: str) -> float:
        m = re.search(pattern, text)
        return float(m.group(1)) if m else float("nan")

    return {
        "qps": grab(r"Queries per second:\s+([\d.]+)"),
        "sent": grab(r"Queries sent:\s+(\d+)"),
        "lost": grab(r"Queries lost:\s+(\d+)"),
        "avg_ms": grab(r"Average Latency \(s\):\s+([\d.]+)") * 1000,
        "run_s": grab(r"Run time \(s\):\s+([\d.]+)"),
        "client_cpu_s": grab(r"Client CPU seconds:\s+([\d.]+)"),
    }


def parse_latencies(text: str) -> dict[str, float]:
    lat, timeouts = [], 0
    for line in text.splitlines():
        if line[:2] == "> ":
            try:
                lat.append(float(line.rsplit(" ", 1)[1]))
            except ValueError:
                timeouts += 1  # "> T name type": no answer within dnsperf's timeout
    lat.sort()
    if not lat:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "verbose_timeouts": timeouts}
    return {
        "verbose_timeouts": timeouts,
        "p50_ms": lat[len(lat) // 2] * 1000,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
    }


def server(
    kind: str, store: Path, zonefile: Path, workdir: Path, cpu: int, tcp: bool = False
) -> AbstractContextManager[tuple[int, subprocess.Popen[bytes]]]:
    if kind == "zonewarden":
        return zonewarden(store, workdir, cpu, tcp)
    extra = "tcp-count: 2000" if tcp else ""
    return peer_process(kind, ZONE, zonefile, workdir / kind, cpu=cpu, nsd_extra=extra)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoints", type=int, default=50000)
    p.add_argument("--queries", type=int, default=200000, help="lines in the dnsperf file")
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--clients", type=int, help="dnsperf clients (8; 1000 with --tcp)")
    p.add_argument("--tcp", action="store_true", help="measure over TCP (dnsperf -m tcp)")
    p.add_argument("--outstanding", type=int, help="queries in flight (200; 2000 with --tcp)")
    p.add_argument("--server-cpu", type=int, default=1)
    p.add_argument("--client-cpu", type=int, default=0)
    p.add_argument("--servers", help="default zonewarden,nsd,knot (zonewarden,nsd with --tcp)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    args.clients = args.clients or (1000 if args.tcp else 8)
    args.outstanding = args.outstanding or (2000 if args.tcp else 200)
    kinds = (args.servers or ("zonewarden,nsd" if args.tcp else "zonewarden,nsd,knot")).split(",")
    results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="zw-bench-") as tmp:
        workdir = Path(tmp)
        t0 = time.monotonic()
        store, zonefile, qfile = build(workdir, args.endpoints, args.queries)
        print(f"built {args.endpoints} endpoints in {time.monotonic() - t0:.1f}s", flush=True)
        for round_no in range(args.rounds):
            for kind in kinds:
                started = server(kind, store, zonefile, workdir, args.server_cpu, args.tcp)
                with started as (port, proc):
                    cpu_before = tree_cpu_seconds(proc.pid)
                    row = parse_summary(dnsperf(port, qfile, args, verbose=False))
                    cpu = tree_cpu_seconds(proc.pid) - cpu_before
                    row["cpu_s"] = cpu
                    row["q_per_cpu_s"] = (row["sent"] - row["lost"]) / cpu if cpu else 0.0
                    row["server_core"] = cpu / row["run_s"] if row["run_s"] else 0.0
                    row["client_core"] = row["client_cpu_s"] / row["run_s"] if row["run_s"] else 0.0
                    row |= parse_latencies(dnsperf(port, qfile, args, verbose=True))
                results[kind].append(row)
                print(f"round {round_no + 1} {kind}: {json.dumps(row)}", flush=True)
    report(results, args)


def bound(m: dict[str, float]) -> str:
    """Which side limited the run: the server (it used its core), dnsperf, or neither."""
    if m["server_core"] >= 0.9:
        return "server-bound"
    if m["client_core"] >= 0.9:
        return "client-bound"
    return "neither (CPU shared with other work)"


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    med = {
        k: {f: statistics.median(r[f] for r in rows) for f in rows[0]}
        for k, rows in results.items()
        if rows
    }
    base = med.get("nsd", {}).get("qps")
    base_cpu = med.get("nsd", {}).get("q_per_cpu_s")
    print(
        "\nResponse rate limiting off on every side (ZoneWarden --rrl-rate 0, NSD rrl-ratelimit 0)."
    )
    print(
        "\n| server | qps (median) | vs NSD | loss | avg latency | p50 | p99 "
        "| answers per CPU-second | vs NSD | server core | dnsperf core | limit |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind, m in med.items():
        loss = 100 * sum(r["lost"] for r in results[kind]) / sum(r["sent"] for r in results[kind])
        ratio = f"{m['qps'] / base:.2f}" if base else "-"
        cpu_ratio = f"{m['q_per_cpu_s'] / base_cpu:.2f}" if base_cpu else "-"
        print(
            f"| {kind} | {m['qps']:,.0f} | {ratio} | {loss:.3f}% | {m['avg_ms']:.2f} ms "
            f"| {m['p50_ms']:.2f} ms | {m['p99_ms']:.2f} ms | {m['q_per_cpu_s']:,.0f} "
            f"| {cpu_ratio} | {m['server_core']:.0%} | {m['client_core']:.0%} "
            f"| {bound(m)} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"results": results, "median": med}, indent=2))


if __name__ == "__main__":
    main()
