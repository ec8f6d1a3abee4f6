"""The server's side of the dashboard's first page alone: CPU and wall time of one GET
/api/v1/dashboard right after the view took a new snapshot (so nothing is memoized), at
50,000 endpoints, without and with a probing planner's per-address health status
(bench/dashboard_load.address_status), and the view's refresh beside it.

    .venv/bin/python bench/dashboard_request.py [--endpoints 50000] [--requests 9]

In-process (Starlette's TestClient), so the CPU is the request's own, not the browser's
or the background refresh's. To compare with older code in the same minute, run it with
PYTHONPATH pointing at that code's src/. Shared machine: quote ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.dashboard_load import address_status
from bench.harness import api_region, loadavg

from zonewarden.api.app import ApiOptions, create_app
from zonewarden.config import Config


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoints", type=int, default=50_000)
    p.add_argument("--requests", type=int, default=9)
    args = p.parse_args()
    region, store = api_region(args.endpoints)
    summary: dict[str, object] = {"endpoints": args.endpoints, "lbs": len(region.lbs)}
    for per in (0, 2):
        if per:
            store.set_health_status(address_status(region, per, time.time()))
        asgi, app = create_app(Config(path=None, region=region), store, ApiOptions(refresh=3600))
        cpu, wall, refresh, size = [], [], [], 0
        with TestClient(asgi) as client:
            client.get("/api/v1/dashboard")  # warm up
            for _ in range(args.requests):
                start = time.process_time()
                app.state.view.refresh()
                refresh.append(time.process_time() - start)
                start, began = time.process_time(), time.perf_counter()
                size = len(client.get("/api/v1/dashboard").content)
                cpu.append(time.process_time() - start)
                wall.append(time.perf_counter() - began)
        summary[f"addresses_{per}"] = {
            "request_cpu_ms_median": round(1000 * statistics.median(cpu), 1),
            "request_wall_ms_median": round(1000 * statistics.median(wall), 1),
            "refresh_cpu_ms_median": round(1000 * statistics.median(refresh), 1),
            "bytes": size,
        }
    summary["loadavg"] = loadavg()
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
