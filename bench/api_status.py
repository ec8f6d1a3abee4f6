"""The admin API's GET /api/v1/status with 50,000 endpoints, beside a plain uvicorn +
Starlette JSON endpoint returning the same 50,000 rows (prebuilt: the floor of
serializing and sending them).

    .venv/bin/python bench/api_status.py [--endpoints 50000] [--requests 15]

Both servers run under uvicorn in this process (one thread each, loopback); the client
is urllib. Reports the median latency of each, the ratio, and the process CPU seconds
per request (server and client together, the same for both sides). Shared machine:
quote the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.harness import api_region, report, served

from zonewarden.api.app import ApiOptions, create_app
from zonewarden.config import Config


def timed(port: int, path: str, n: int) -> tuple[list[float], float, int]:
    times, size = [], 0
    cpu = time.process_time()
    for _ in range(n):
        start = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as r:
            size = len(r.read())
        times.append(time.perf_counter() - start)
    return times, (time.process_time() - cpu) / n, size


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoints", type=int, default=50_000)
    p.add_argument("--requests", type=int, default=15)
    args = p.parse_args()
    region, store = api_region(args.endpoints)
    asgi, app = create_app(Config(path=None, region=region), store, ApiOptions(refresh=3600))
    # the same rows /api/v1/status sends (each endpoint's row without its weights), prebuilt
    endpoints = app.state.view.refresh().endpoints
    rows = [{k: v for k, v in e.as_json().items() if k != "weights"} for e in endpoints]

    async def plain(_: Any) -> JSONResponse:
        return JSONResponse({"endpoint_list": rows})

    with ExitStack() as servers:
        our_port = servers.enter_context(served(asgi))
        peer_port = servers.enter_context(served(Starlette(routes=[Route("/status", plain)])))
        timed(our_port, "/api/v1/status", 2)  # warm up both
        timed(peer_port, "/status", 2)
        ours_t, ours_cpu, ours_size = timed(our_port, "/api/v1/status", args.requests)
        peer_t, peer_cpu, peer_size = timed(peer_port, "/status", args.requests)
    summary = {
        "endpoints": args.endpoints,
        "requests": args.requests,
        "zonewarden_status_ms_median": round(1000 * statistics.median(ours_t), 1),
        "zonewarden_cpu_ms_per_request": round(1000 * ours_cpu, 1),
        "zonewarden_bytes": ours_size,
        "plain_uvicorn_ms_median": round(1000 * statistics.median(peer_t), 1),
        "plain_cpu_ms_per_request": round(1000 * peer_cpu, 1),
        "plain_bytes": peer_size,
    }
    return report(summary, ours_t, peer_t)


if __name__ == "__main__":
    sys.exit(main())
