"""Counters kept by every resilience component, and one process-wide view of them.

Rules kept here: a component counts what it decided (retries allowed and refused,
requests rejected, work dropped and why) in plain integers, so the simulator pays no
more than a dict update per decision; every live set of counters is listed in one
process-wide registry (`all_counters`), which the metrics surface exports as
`zonewarden_resilience_<key>_total{component=..., name=..., process=...}` through
`prometheus_collector()` when prometheus_client is installed, together with the
counters other processes published (the planner and the enactors publish theirs to
the store, the health checker's probe queue among them; the API reads them). Nothing here keeps a
second registry: the collector is registered once, in the process's own registry.
"""

from __future__ import annotations

import importlib
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any


class Counters:
    """Named integer counters for one component instance (e.g. `retry-budget` "enactor")."""

    __slots__ = ("__weakref__", "component", "name", "values")

    def __init__(self, component: str, name: str, keys: Iterable[str]) -> None:
        self.component = component
        self.name = name
        self.values: dict[str, int] = dict.fromkeys(keys, 0)
        _LIVE.add(self)

    def inc(self, key: str, n: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + n

    def __getitem__(self, key: str) -> int:
        return self.values.get(key, 0)

    def snapshot(self) -> dict[str, int]:
        return dict(self.values)

    def __repr__(self) -> str:
        return f"Counters({self.component}/{self.name}: {self.values})"


_LIVE: weakref.WeakSet[Counters] = weakref.WeakSet()


def all_counters() -> list[Counters]:
    """Every live component's counters, ordered by component then name."""
    return sorted(_LIVE, key=lambda c: (c.component, c.name))


def snapshot() -> dict[str, dict[str, int]]:
    """`{"component/name": {key: count}}` for status pages and `--json`."""
    return {f"{c.component}/{c.name}": c.snapshot() for c in all_counters()}


Published = Mapping[str, Mapping[str, Mapping[str, int]]]  # process -> "component/name" -> counts


def prometheus_collector(
    process: str = "local", published: Callable[[], Published] | None = None
) -> Any:
    """A prometheus_client collector over `all_counters()` (labelled `process=process`)
    and, when given, the counters other processes published (`published()`: per process
    a `snapshot()`, e.g. the planner's in its health status); register it once per process.

    Raises RuntimeError naming the package when prometheus_client is not installed.
    """
    try:
        prometheus = importlib.import_module("prometheus_client.core")
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            "resilience metrics need prometheus_client (pip install prometheus_client)"
        ) from exc

    class ResilienceCollector:
        def collect(self) -> Iterator[Any]:
            families: dict[str, Any] = {}
            for component, name, source, values in _rows(process, published):
                for key, value in sorted(values.items()):
                    metric = "zonewarden_resilience_" + key.replace("-", "_")
                    family = families.get(metric)
                    if family is None:
                        family = prometheus.CounterMetricFamily(
                            metric,
                            f"resilience decisions: {key}",
                            labels=["component", "name", "process"],
                        )
                        families[metric] = family
                    family.add_metric([component, name, source], value)
            yield from families.values()

        def describe(self) -> list[Any]:
            return []

    return ResilienceCollector()


def _rows(
    process: str, published: Callable[[], Published] | None
) -> Iterator[tuple[str, str, str, Mapping[str, int]]]:
    for c in all_counters():
        yield c.component, c.name, process, c.values
    if published is None:
        return
    for source, table in sorted(published().items()):
        if source == process or not isinstance(table, Mapping):
            continue  # our own counters are the live ones above
        for key, values in sorted(table.items()):
            component, _, name = str(key).partition("/")
            if isinstance(values, Mapping):  # a document from a store: skip what is not counts
                counts = {k: v for k, v in values.items() if isinstance(v, int)}
                yield component, name, source, counts
