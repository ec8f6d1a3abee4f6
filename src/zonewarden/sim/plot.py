"""Plots of a run: applied generation and record count per endpoint over virtual time.

Rules kept here: matplotlib is imported lazily with the Agg backend (no display), and
checked before a run starts (`require_plotting`), so a missing `[plot]` extra or an
unknown file type is one clear error and nothing is half-written;
the moments an endpoint served zero records are shaded and labelled, and an operator
repair is marked, so the incident reads at a glance.
"""

from __future__ import annotations

from pathlib import Path

from zonewarden.errors import ConfigError, MissingExtra
from zonewarden.sim.world import RunReport

FORMATS = (".png", ".svg", ".pdf")


def require_plotting(path: Path) -> None:
    """Raise before any work when `path` cannot be plotted: no matplotlib, or a type it
    does not write."""
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(
            f"--plot {path}: the file name must end in {', '.join(FORMATS)} (the plot's format)"
        )
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError as exc:
        raise MissingExtra("--plot (matplotlib)", "plot") from exc
    if not path.parent.is_dir():
        raise ConfigError(f"--plot {path}: the directory {path.parent} does not exist")


def plot_run(report: RunReport, path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[float, int, int]]] = {}
    for t, name, g, count in report.samples:
        series.setdefault(name, []).append((t, g, count))
    end = report.virtual_time
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 6.5))
    for name, points in sorted(series.items()):
        points = [*points, (end, points[-1][1], points[-1][2])]
        ts = [p[0] for p in points]
        top.step(ts, [p[1] for p in points], where="post", label=name)
        bottom.step(ts, [p[2] for p in points], where="post", label=name)
        for start, stop in _empty_spans(points):
            bottom.axvspan(start, stop, color="red", alpha=0.2)
    if report.empty_from is not None:
        for ax in (top, bottom):
            ax.axvline(report.empty_from, color="red", linestyle="--")
        bottom.annotate(
            f"endpoint empty at {report.empty_from:.2f}s",
            (report.empty_from, 0),
            xytext=(5, 20),
            textcoords="offset points",
            color="red",
        )
    if report.repaired_at is not None:
        for ax in (top, bottom):
            ax.axvline(report.repaired_at, color="green", linestyle=":")
        top.annotate("operator repair", (report.repaired_at, 1), color="green")
    top.set_ylabel("applied generation")
    bottom.set_ylabel("records served")
    bottom.set_xlabel("virtual time (s)")
    top.legend(fontsize="small", loc="upper left")
    verdict = "ok" if report.ok else "violated " + ",".join(sorted(report.first))
    top.set_title(title or f"{report.protocol} seed {report.seed}: {verdict}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _empty_spans(points: list[tuple[float, int, int]]) -> list[tuple[float, float]]:
    spans, start = [], None
    for t, _, count in points:
        if count == 0 and start is None:
            start = t
        elif count > 0 and start is not None:
            spans.append((start, t))
            start = None
    if start is not None:
        spans.append((start, points[-1][0]))
    return spans
