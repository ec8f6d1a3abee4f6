"""Probe throughput from one process, beside a bare asyncio connect loop (issue 9).

    python bench/probe_throughput.py [--addresses 5000] [--seconds 5] [--cap 256]
                                     [--rounds 3] [--kind tcp|http|both] [--json]

Starts `--addresses` loopback LBs (zonewarden.health.lbserver, spread over a few server
processes on 127.1.x.y), then, in this process, alternately for `--rounds` rounds:

- ZoneWarden: the real `Prober` (health/prober.py) over every address with interval 0,
  so it probes as fast as it can, at most `--cap` probes in flight (checked: the peak
  in-flight count it records must not exceed the cap); every address then always has
  a probe waiting, so the queue is as deep as the addresses (`--queue-depth`; a smaller
  one is full all the time and sheds, the overload path, which costs throughput);
- the peer: a bare asyncio loop doing the same work and nothing else (connect, and for
  http a GET and a read), through a semaphore of the same cap.

Reported: probes per second (median), the ratio, this process's CPU seconds per 1,000
probes for each side, and the LB servers' CPU. The goal is >= 5,000 addresses/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from zonewarden.core.checks import CheckTarget, ProbeSettings
from zonewarden.core.model import LbId
from zonewarden.health.prober import Prober, fast_loop_factory

PER_SERVER = 1250


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--addresses", type=int, default=5000)
    p.add_argument("--seconds", type=float, default=5.0, help="per side per round")
    p.add_argument("--cap", type=int, default=256, help="max concurrent probes")
    p.add_argument(
        "--queue-depth",
        type=int,
        default=0,
        help="the prober's [health] queue_depth (default: the address count, so admission "
        "never sheds; below it, the queue is full all the time and sheds, as under overload)",
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--kind", choices=["tcp", "http", "both"], default="both")
    p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop", help="both sides")
    p.add_argument("--json", action="store_true")
    return p.parse_args(argv)


def start_servers(count: int) -> tuple[list[subprocess.Popen[str]], list[str]]:
    procs, addresses = [], []
    for first in range(0, count, PER_SERVER):
        argv = [sys.executable, "-m", "zonewarden.health.lbserver"]
        for i in range(first, min(count, first + PER_SERVER)):
            argv += ["--listen", f"127.1.{i // 250}.{i % 250 + 1}:0"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("an LB server process did not start")
        addresses += json.loads(line)["listening"]
        proc.stdout.close()
        procs.append(proc)
    return procs, addresses


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def targets(addresses: list[str], kind: str) -> dict[LbId, CheckTarget]:
    out = {}
    for i, address in enumerate(addresses):
        host, port = address.rsplit(":", 1)
        path = "/health" if kind == "http" else "/"
        out[LbId(f"lb{i}")] = CheckTarget(kind, host, int(port), path)
    return out


async def run_prober(
    checks: dict[LbId, CheckTarget], cap: int, seconds: float, queue_depth: int = 0
) -> dict[str, float]:
    settings = ProbeSettings(
        interval=0.001,
        timeout=2.0,
        jitter=0.0,
        max_concurrent=cap,
        probe_deadline=2.0,
        queue_depth=queue_depth or len(checks),
    )
    prober = Prober("bench", checks, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(prober.run(stop))
    await asyncio.sleep(0.5)  # every check has started (random offsets within an interval)
    start_probes, start, cpu = prober.probes, time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    done, wall, used = (
        prober.probes - start_probes,
        time.perf_counter() - start,
        time.process_time() - cpu,
    )
    stop.set()
    await task
    ok = sum(1 for s in prober.states.values() if s.healthy)
    return {
        "rate": done / wall,
        "cpu_per_1000": 1000 * used / max(1, done),
        "peak_in_flight": prober.in_flight_peak,
        "healthy_share": ok / len(checks),
    }


async def run_bare(checks: dict[LbId, CheckTarget], cap: int, seconds: float) -> dict[str, float]:
    gate = asyncio.Semaphore(cap)
    count = 0
    stop_at = 0.0

    async def one(t: CheckTarget) -> None:
        nonlocal count
        while time.perf_counter() < stop_at:
            async with gate:
                reader, writer = await asyncio.open_connection(t.host, t.port)
                if t.scheme == "http":
                    writer.write(
                        f"GET {t.path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
                    )
                    await reader.read()
                writer.transport.abort()
            count += 1

    stop_at = time.perf_counter() + seconds
    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(t) for t in checks.values()), return_exceptions=True)
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    return {"rate": count / wall, "cpu_per_1000": 1000 * used / max(1, count)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=args.json)
    procs, addresses = start_servers(args.addresses)
    pids = [p.pid for p in procs]
    loop = None if args.loop == "asyncio" else fast_loop_factory()
    report: dict[str, object] = {
        "command": " ".join(["python", "bench/probe_throughput.py", *sys.argv[1:]]),
        "addresses": len(addresses),
        "cap": args.cap,
        "queue_depth": args.queue_depth or args.addresses,
        "loop": "uvloop" if loop is not None else "asyncio",
    }
    try:
        kinds = ["tcp", "http"] if args.kind == "both" else [args.kind]
        for kind in kinds:
            checks = targets(addresses, kind)
            zw, bare, zw_srv, bare_srv = [], [], [], []
            for r in range(args.rounds):
                console.print(f"{kind} round {r + 1}/{args.rounds} ...")
                before = cpu_of(pids)
                with asyncio.Runner(loop_factory=loop) as runner:
                    zw.append(
                        runner.run(run_prober(checks, args.cap, args.seconds, args.queue_depth))
                    )
                middle = cpu_of(pids)
                with asyncio.Runner(loop_factory=loop) as runner:
                    bare.append(runner.run(run_bare(checks, args.cap, args.seconds)))
                zw_srv.append(middle - before)
                bare_srv.append(cpu_of(pids) - middle)
            med = statistics.median
            report[kind] = {
                "zonewarden_rate": med(x["rate"] for x in zw),
                "bare_rate": med(x["rate"] for x in bare),
                "ratio_bare_over_zonewarden": med(x["rate"] for x in bare)
                / med(x["rate"] for x in zw),
                "zonewarden_cpu_ms_per_1000": med(x["cpu_per_1000"] for x in zw) * 1000,
                "bare_cpu_ms_per_1000": med(x["cpu_per_1000"] for x in bare) * 1000,
                "peak_in_flight": max(x["peak_in_flight"] for x in zw),
                "cap_respected": max(x["peak_in_flight"] for x in zw) <= args.cap,
                "healthy_share": min(x["healthy_share"] for x in zw),
                "lb_server_cpu_s": {"zonewarden": med(zw_srv), "bare": med(bare_srv)},
            }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
    report["load_average_1m"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        table = Table(title=f"Probe throughput: {len(addresses):,} loopback LBs, cap {args.cap}")
        for col in (
            "probe",
            "ZoneWarden /s",
            "bare asyncio /s",
            "bare / ZW",
            "ZW CPU ms/1k",
            "bare CPU ms/1k",
            "peak in flight",
        ):
            table.add_column(col, justify="right")
        for kind in ("tcp", "http"):
            f = report.get(kind)
            if isinstance(f, dict):
                table.add_row(
                    kind,
                    f"{f['zonewarden_rate']:,.0f}",
                    f"{f['bare_rate']:,.0f}",
                    f"{f['ratio_bare_over_zonewarden']:.2f}",
                    f"{f['zonewarden_cpu_ms_per_1000']:.0f}",
                    f"{f['bare_cpu_ms_per_1000']:.0f}",
                    str(f["peak_in_flight"]),
                )
        console.print(table)
        console.print(f"1-minute load average: {report['load_average_1m']:.1f}")
    ok = all(f["cap_respected"] for k, f in report.items() if isinstance(f, dict))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
