"""How soon `zonewarden up` (no config: the live demo with its own load balancers and
probing planner) answers DNS after start, beside the data plane alone (`serve-dns` on
a store that already holds the applied zone, the floor `up` cannot beat).

    .venv/bin/python bench/up_start.py [--runs 5]

Each run: a fresh directory, `up --no-api` on free ports, dnspython asking
kv.us-east-1.example. every 20 ms until a NOERROR answer with addresses; then SIGINT.
Reports the median and each run, the ratio to the peer, and CPU seconds used per run
(the process tree, from RUSAGE_CHILDREN). The machine is shared: quote ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.message
import dns.rcode

import dns.query

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.harness import free_port, loadavg, stop, wait_for

NAME = "kv.us-east-1.example."


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def answered(port: int) -> bool:
    """A NOERROR answer with addresses for NAME from 127.0.0.1:port."""
    try:
        q = dns.message.make_query(NAME, "A")
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=0.05)
    except (dns.exception.Timeout, OSError):
        return False
    return r.rcode() == dns.rcode.NOERROR and bool(r.answer)


def run(argv: list[str], cwd: Path, port: int) -> tuple[float, float]:
    before = cpu()
    start = time.monotonic()
    with (cwd / "out.log").open("ab") as log:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: answered(port), 60, "a DNS answer", proc=proc, every=0.02)
        took = time.monotonic() - start
    finally:
        stop(proc, signal.SIGINT, timeout=30)
    return took, cpu() - before


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    zw = [sys.executable, "-m", "zonewarden"]
    ups, up_cpu, peers, peer_cpu = [], [], [], []
    for i in range(args.runs):
        cwd = Path(tempfile.mkdtemp(prefix="zw-up-bench-"))
        try:
            port = free_port()
            took, used = run(
                [*zw, "up", "--quiet", "--no-api", "--dns-listen", f"127.0.0.1:{port}"], cwd, port
            )
            ups.append(took)
            up_cpu.append(used)
            # the peer: the DNS server alone, on the zone this run's region applied
            port = free_port()
            config = str(cwd / ".zonewarden" / "demo.toml")
            took, used = run(
                [*zw, "serve-dns", "--config", config, "--listen", f"127.0.0.1:{port}"], cwd, port
            )
            peers.append(took)
            peer_cpu.append(used)
            print(
                f"run {i + 1}: up {ups[-1]:.2f}s ({up_cpu[-1]:.2f} CPU-s)  serve-dns alone {peers[-1]:.2f}s ({peer_cpu[-1]:.2f} CPU-s)",
                flush=True,
            )
        finally:
            shutil.rmtree(cwd, ignore_errors=True)
    up_med, peer_med = statistics.median(ups), statistics.median(peers)
    summary = {
        "runs": args.runs,
        "up_first_answer_s": {"median": round(up_med, 3), "each": [round(x, 3) for x in ups]},
        "up_cpu_s_median": round(statistics.median(up_cpu), 2),
        "serve_dns_alone_s": {"median": round(peer_med, 3), "each": [round(x, 3) for x in peers]},
        "serve_dns_cpu_s_median": round(statistics.median(peer_cpu), 2),
        "ratio_up_to_serve_dns": round(up_med / peer_med, 2),
        "loadavg": loadavg(),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
