"""Plots and CSV files of cascade runs and sweeps (matplotlib: the `plot` extra).

Rules kept here: matplotlib is imported lazily with the Agg backend, and a missing
install raises `MissingExtra` naming the `plot` extra; every PNG has a CSV beside it
with the numbers it shows, so a figure can be checked or redrawn elsewhere.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from zonewarden.errors import MissingExtra
from zonewarden.sim.cascade.chain import ChainResult
from zonewarden.sim.cascade.experiments import HysteresisRow, PhaseCell
from zonewarden.sim.cascade.health import HEALTH_COLUMNS
from zonewarden.sim.cascade.service import COLUMNS, ServiceResult


def pyplot() -> Any:
    try:
        import matplotlib
    except ModuleNotFoundError as exc:
        raise MissingExtra("plots (--plot)", "plot") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)


def timeseries(
    results: Sequence[tuple[str, ServiceResult]], folder: Path, stem: str, title: str
) -> list[Path]:
    """Per policy: work done (leases held), queue depth, goodput beside throughput."""
    plt = pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    fig, (top, mid, low) = plt.subplots(3, 1, sharex=True, figsize=(10, 8))
    rows: list[list[Any]] = []
    for label, r in results:
        t = [s[0] for s in r.samples]
        top.plot(t, [s[9] for s in r.samples], label=label)
        mid.plot(t, [s[7] for s in r.samples], label=label)
        per = r.samples[1][0] - r.samples[0][0] if len(r.samples) > 1 else 1.0
        (line,) = low.plot(t, [s[3] / per for s in r.samples], label=f"{label} goodput")
        low.plot(t, [s[4] / per for s in r.samples], linestyle=":", color=line.get_color())
        rows.extend([label, *s] for s in r.samples)
    busy = [s[0] for _, r in results for s in r.samples if s[1] or s[2]]
    if busy:  # start just before the first arrival: a long quiet outage says nothing
        end = max(r.horizon for _, r in results)
        top.set_xlim(max(0.0, min(busy) - 0.05 * (end - min(busy))), end)
    top.set_ylabel("done (leases held)")
    mid.set_ylabel("queue depth")
    mid.set_yscale("symlog")
    mid.set_ylim(bottom=0)
    low.set_ylabel("per s: goodput (solid), throughput (dotted)")
    low.set_xlabel("virtual time (s)")
    top.legend(fontsize="small")
    top.set_title(title)
    fig.tight_layout()
    png = folder / f"{stem}.png"
    fig.savefig(png, dpi=90)
    plt.close(fig)
    csv_path = folder / f"{stem}.csv"
    write_csv(csv_path, ("policy", *COLUMNS), rows)
    return [png, csv_path]


def chain_stages(
    results: Sequence[tuple[str, ChainResult]], folder: Path, stem: str, title: str
) -> list[Path]:
    """The chain per policy: leases held, instances waiting for network state, capacity in DNS."""
    plt = pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    fig, (a, b, c) = plt.subplots(3, 1, sharex=True, figsize=(10, 8))
    rows: list[list[Any]] = []
    for label, r in results:
        held = r.params.hosts - r.params.expired
        a.plot([s[0] for s in r.lease.samples], [held + s[9] for s in r.lease.samples], label=label)
        h = r.health_rows
        b.plot([x[0] for x in h], [x[4] for x in h], label=label)
        c.plot([x[0] for x in h], [x[9] for x in h], label=label)
        rows.extend([label, *x] for x in h)
    restored = results[0][1].params.dns_outage
    a.axvline(restored, color="grey", linestyle="--")
    a.set_xlim(max(0.0, restored - 0.05 * results[0][1].params.after), None)
    a.set_ylabel("leases held")
    b.set_ylabel("instances without\nnetwork state")
    c.set_ylabel("healthy capacity\nin DNS (targets)")
    c.set_xlabel("virtual time since DNS went (s)")
    a.legend(fontsize="small")
    a.set_title(title)
    fig.tight_layout()
    png = folder / f"{stem}.png"
    fig.savefig(png, dpi=90)
    plt.close(fig)
    csv_path = folder / f"{stem}.csv"
    write_csv(csv_path, ("policy", *HEALTH_COLUMNS), rows)
    return [png, csv_path]


def hysteresis_curve(
    rows: Sequence[HysteresisRow], folder: Path, stem: str = "hysteresis"
) -> list[Path]:
    plt = pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 5))
    for phase, style in (("up", "o-"), ("down", "s--")):
        pts = [r for r in rows if r.phase == phase]
        ax.plot([r.load for r in pts], [r.goodput for r in pts], style, label=f"load {phase}")
    ax.plot([0, 300], [0, 300], color="grey", linewidth=0.5)
    ax.set_xlabel("offered load (requests/s)")
    ax.set_ylabel("goodput (responses in time /s)")
    ax.set_title("Bronson et al.: capacity 300/s, one retry; a 10 s outage at the top")
    ax.legend()
    fig.tight_layout()
    png = folder / f"{stem}.png"
    fig.savefig(png, dpi=90)
    plt.close(fig)
    csv_path = folder / f"{stem}.csv"
    write_csv(
        csv_path,
        ("phase", "load", "goodput", "attempts"),
        [(r.phase, r.load, r.goodput, r.attempts) for r in rows],
    )
    return [png, csv_path]


def phase_diagram(
    cells: Sequence[PhaseCell],
    boundary: Callable[[float], float] | None,
    folder: Path,
    stem: str,
    title: str,
) -> list[Path]:
    plt = pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    ok = [c for c in cells if c.recovered]
    bad = [c for c in cells if not c.recovered]
    ax.scatter(
        [c.timeout for c in ok],
        [c.hosts for c in ok],
        marker="s",
        color="tab:green",
        s=28,
        label="recovered",
    )
    ax.scatter(
        [c.timeout for c in bad],
        [c.hosts for c in bad],
        marker="x",
        color="tab:red",
        s=28,
        label="collapsed",
    )
    if boundary is not None:
        ts = sorted({c.timeout for c in cells})
        ax.plot(ts, [boundary(t) for t in ts], color="black", label="analytic: H = 2W(T - s)/s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(min(c.hosts for c in cells) * 0.8, max(c.hosts for c in cells) * 1.25)
    ax.set_xlabel("establishment timeout T (s)")
    ax.set_ylabel("leases to re-establish H")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="upper left")
    fig.tight_layout()
    png = folder / f"{stem}.png"
    fig.savefig(png, dpi=90)
    plt.close(fig)
    csv_path = folder / f"{stem}.csv"
    write_csv(
        csv_path,
        ("timeout_s", "hosts", "recovered", "recovery_s"),
        [(c.timeout, c.hosts, c.recovered, c.recovery_s) for c in cells],
    )
    return [png, csv_path]
