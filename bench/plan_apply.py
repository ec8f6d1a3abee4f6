"""Plan and apply at 50,000 endpoints x 8 A records, beside octoDNS (issue 2).

    python bench/plan_apply.py [--endpoints 50000] [--records 8] [--repeat 3]
                               [--peer octodns|none] [--peer-repeat 1] [--json]

Each repeat runs ZoneWarden's two phases in fresh child processes, so each phase's
peak memory is its own: (1) plan + publish into a new SQLite store + full apply by the
safe enactor, (2) re-plan with 1% of the endpoints changed + publish + apply. The
octoDNS peer then syncs the same 1% change with `octodns-sync --doit` into a zone file
and into BIND over RFC 2136. Medians are reported; the exit status is 1 if the
incremental apply rewrote anything but the changed endpoints or left any behind.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `zonewarden` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.region import Shape
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

TARGETS = {"full_apply_s": 10.0, "incr_s": 0.5, "health_total_s": 0.3, "peak_rss_mib": 1024.0}
CHECKS = (
    "full_all_at_generation",
    "incr_plan_differs_exactly",
    "incr_written_exactly_changed",
    "incr_rewritten_exactly_changed",
    "incr_all_at_generation",
    "steady_written_exactly_changed",
    "health_replanned_exactly_affected",
    "health_written_exactly_affected",
)
ISSUE_OCTODNS = {"zonefile_s": 31.0, "bind_s": 53.0, "rss_mib": 676.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--endpoints", type=int, default=50_000)
    p.add_argument("--records", type=int, default=8, help="A records per endpoint")
    p.add_argument("--repeat", type=int, default=3, help="ZoneWarden repeats (median)")
    p.add_argument("--batch-size", type=int, default=1000, help="enactor batch size")
    p.add_argument(
        "--cycles", type=int, default=8, help="steady-state 1%% plans after the incremental one"
    )
    p.add_argument("--peer", choices=["octodns", "none"], default="octodns")
    p.add_argument("--peer-repeat", type=int, default=1, help="octoDNS repeats per target")
    p.add_argument("--peer-targets", default="zonefile,bind", help="comma list")
    p.add_argument("--workdir", type=Path, default=None, help="keep files here")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--child", choices=["full", "incremental", "health", "steady"], help=argparse.SUPPRESS
    )
    p.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def child_main(args: argparse.Namespace) -> int:
    """One ZoneWarden phase in this process: progress and the result as JSON lines."""
    from bench.zonewarden_run import run_full, run_incremental, run_steady

    from zonewarden.core.enactor import EnactorConfig

    def progress(phase: str, done: int, total: int) -> None:
        print(json.dumps({"progress": [phase, done, total]}), flush=True)

    shape = Shape(args.endpoints, args.records)
    config = EnactorConfig(batch_size=args.batch_size)
    if args.child == "steady":
        result = run_steady(shape, args.store, config, args.cycles, progress)
    elif args.child == "health":
        from bench.health_replan import run_health

        result = run_health(shape, args.store, config, progress)
    else:
        run = run_full if args.child == "full" else run_incremental
        result = run(shape, args.store, config, progress)
    print(json.dumps({"result": result}), flush=True)
    return 0


def run_child(args: argparse.Namespace, phase: str, store: Path, bar: Bar) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", phase, "--store", str(store)]
    cmd += ["--endpoints", str(args.endpoints), "--records", str(args.records)]
    cmd += ["--batch-size", str(args.batch_size), "--cycles", str(args.cycles)]
    result: dict[str, Any] | None = None
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:  # closes, waits
        assert proc.stdout is not None
        for line in proc.stdout:
            message = json.loads(line)
            if "progress" in message:
                bar(*message["progress"])
            else:
                result = message["result"]
    if proc.returncode != 0 or result is None:
        raise RuntimeError(f"benchmark child {phase} failed (exit {proc.returncode})")
    return result


Bar = Callable[[str, int, int], None]


def run_zonewarden(
    args: argparse.Namespace, work: Path, progress: Progress
) -> list[dict[str, Any]]:
    runs = []
    for r in range(args.repeat):
        task = progress.add_task(f"ZoneWarden run {r + 1}/{args.repeat}", total=None)

        def bar(phase: str, done: int, total: int, task: Any = task, r: int = r) -> None:
            label = f"ZoneWarden run {r + 1}/{args.repeat}: {phase}"
            progress.update(task, description=label, completed=done, total=total or None)

        store = work / f"zonewarden-{r}" / "region.db"
        store.parent.mkdir(parents=True, exist_ok=True)
        figures = run_child(args, "full", store, bar)
        figures |= run_child(args, "incremental", store, bar)
        if args.cycles > 0:
            figures |= run_child(args, "steady", store, bar)
        figures |= run_child(args, "health", store, bar)
        figures["peak_rss_mib"] = max(figures["full_peak_rss_mib"], figures["incr_peak_rss_mib"])
        progress.update(task, description=f"ZoneWarden run {r + 1}/{args.repeat}: done")
        runs.append(figures)
    return runs


def run_octodns(args: argparse.Namespace, work: Path, progress: Progress) -> dict[str, list[Any]]:
    from bench import octodns_peer

    if not all(importlib.util.find_spec(m) for m in ("octodns", "octodns_bind")):
        raise SystemExit(
            "the octoDNS peer needs the [bench] extra: pip install -e '.[bench]' (or --peer none)"
        )
    shape = Shape(args.endpoints, args.records)
    out: dict[str, list[Any]] = {}
    for target in [t for t in args.peer_targets.split(",") if t]:
        sync = {"zonefile": octodns_peer.zonefile_sync, "bind": octodns_peer.bind_sync}[target]
        for r in range(args.peer_repeat):
            label = f"octoDNS 1% sync -> {target} {r + 1}/{args.peer_repeat}"
            task = progress.add_task(label, total=None)
            figures = sync(shape, work / f"octodns-{target}-{r}")
            progress.update(
                task, description=f"{label}: {figures.seconds:.1f} s", total=1, completed=1
            )
            out.setdefault(target, []).append(figures)
    return out


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def summarise(
    args: argparse.Namespace, zw: list[dict[str, Any]], peer: dict[str, list[Any]]
) -> dict[str, Any]:
    keys = [k for k, v in zw[0].items() if isinstance(v, float)]
    zw_median = {k: median(zw, k) for k in keys}
    report: dict[str, Any] = {
        "command": " ".join(["python", "bench/plan_apply.py", *sys.argv[1:]]),
        "shape": {
            "endpoints": args.endpoints,
            "records": args.records,
            "batch_size": args.batch_size,
        },
        "zonewarden": {"runs": zw, "median": zw_median},
        "checks": {c: all(bool(r.get(c, True)) for r in zw) for c in CHECKS},
        "targets": {k: {"limit": v, "met": zw_median[k] <= v} for k, v in TARGETS.items()},
    }
    octo: dict[str, Any] = {}
    for target, figures in peer.items():
        seconds = statistics.median(f.seconds for f in figures)
        cpu = statistics.median(f.cpu_s + f.server_cpu_s for f in figures)
        octo[target] = {
            "seconds": seconds,
            "cpu_s": cpu,  # octodns-sync's CPU plus, for BIND, named's during the sync
            "peak_rss_mib": statistics.median(f.peak_rss_mib for f in figures),
            "runs": len(figures),
            "verified": all(f.verified for f in figures),
            "ratio_wall": seconds / zw_median["incr_s"],
            "ratio_cpu": cpu / zw_median["incr_cpu_s"],
            "ratio_wall_incl_replan": seconds / (zw_median["incr_s"] + zw_median["replan_s"]),
            # a health change: incremental plan + publish + apply, all of it
            "ratio_wall_health": seconds / zw_median["health_total_s"],
            "ratio_cpu_health": cpu / zw_median["health_total_cpu_s"],
            "ratio_cpu_health_applied": cpu / zw_median["health_applied_cpu_s"],
            "ratio_rss": statistics.median(f.peak_rss_mib for f in figures)
            / zw_median["incr_peak_rss_mib"],
        }
    report["octodns"] = octo
    report["load_average_1m"] = os.getloadavg()[0]
    return report


def render(console: Console, report: dict[str, Any]) -> None:
    m = report["zonewarden"]["median"]
    n = len(report["zonewarden"]["runs"])
    shape = report["shape"]
    table = Table(
        title=f"ZoneWarden, {shape['endpoints']:,} endpoints x {shape['records']} A records (median of {n})"
    )
    for col in ("phase", "wall s", "CPU s", "target", "peak RSS MiB"):
        table.add_column(col, justify="right" if col != "phase" else "left")
    rows = [
        ("plan (Region.build + build_draft)", "plan_s", "plan_cpu_s", "", "full_peak_rss_mib"),
        ("publish into a fresh SQLite store", "publish_s", "publish_cpu_s", "", ""),
        (
            "full apply (safe enactor, until idle)",
            "full_apply_s",
            "full_apply_cpu_s",
            "<= 10 s",
            "full_peak_rss_mib",
        ),
        ("re-plan with 1% changed", "replan_s", "replan_cpu_s", "", ""),
        ("incremental publish + apply", "incr_s", "incr_cpu_s", "<= 0.5 s", "incr_peak_rss_mib"),
        ("  of which publish", "incr_publish_s", "", "", ""),
        ("  of which apply", "incr_apply_s", "", "", ""),
        ("steady state: mean of --cycles more 1% plans", "steady_s", "steady_cpu_s", "", ""),
        (
            "health change (1%): plan + publish + apply",
            "health_total_s",
            "health_total_cpu_s",
            "<= 0.3 s",
            "",
        ),
        (
            "  until applied (the enactor's clean-up after it left out)",
            "health_applied_s",
            "health_applied_cpu_s",
            "",
            "",
        ),
        ("  of which incremental plan (plan_tick)", "health_plan_s", "health_plan_cpu_s", "", ""),
        ("  of which publish (compare-and-set)", "health_publish_s", "", "", ""),
        ("  of which apply (until idle, clean-up included)", "health_apply_s", "", "", ""),
    ]
    for label, wall, cpu, target, rss in rows:
        if wall not in m:
            continue
        table.add_row(
            label,
            f"{m[wall]:.3f}",
            f"{m[cpu]:.3f}" if cpu else "",
            target,
            f"{m[rss]:.0f}" if rss else "",
        )
    console.print(table)
    checks = report["checks"]
    run = report["zonewarden"]["runs"][0]
    console.print(
        f"incremental rewrote {run['incr_written']} endpoints' records "
        f"(changed: {run['incr_changed']}); checks: "
        + ", ".join(f"{k}={'ok' if v else 'FAILED'}" for k, v in checks.items())
    )
    if report["octodns"]:
        peer = Table(title="octoDNS 1% sync (octodns-sync --doit: plan + apply)")
        for col in (
            "target",
            "runs",
            "wall s",
            "CPU s",
            "peak RSS MiB",
            "octoDNS / ZW wall",
            "/ ZW CPU",
            "/ ZW incl. re-plan",
            "/ ZW health change",
            "/ its CPU",
        ):
            peer.add_column(col, justify="right" if col != "target" else "left")
        for target, f in report["octodns"].items():
            peer.add_row(
                target,
                str(f["runs"]),
                f"{f['seconds']:.1f}",
                f"{f['cpu_s']:.1f}",
                f"{f['peak_rss_mib']:.0f}",
                f"{f['ratio_wall']:.0f}x",
                f"{f['ratio_cpu']:.0f}x",
                f"{f['ratio_wall_incl_replan']:.1f}x",
                f"{f['ratio_wall_health']:.0f}x",
                f"{f['ratio_cpu_health']:.0f}x",
            )
        console.print(peer)
    console.print(f"1-minute load average at the end: {report['load_average_1m']:.1f}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    console = Console(stderr=args.json)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    ]
    with tempfile.TemporaryDirectory(prefix="zw-bench-") as tmp:
        work = args.workdir or Path(tmp)
        with Progress(*columns, console=console) as progress:
            zw = run_zonewarden(args, work, progress)
            peer = run_octodns(args, work, progress) if args.peer == "octodns" else {}
        report = summarise(args, zw, peer)
    if args.json:
        print(json.dumps(report, indent=2, default=lambda o: getattr(o, "__dict__", str(o))))
    else:
        render(console, report)
    return 0 if all(report["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
