"""The probing health source: this process's prober plus other vantage points' reports.

`ProbeHealth.observe(now)` merges the local prober's report with the reports other
vantage points (the enactors, one per AZ) published to the store, through the quorum
of core/health.combine. Evidence with problems (stale, too thin, vantage points split)
raises HealthUnavailable with the reason, so the planner holds (fail-static) and says
why; it is never read as "unhealthy".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from zonewarden.core.health import NO_READING, Evidence, QuorumRule, VantageReport, combine
from zonewarden.core.model import LbId
from zonewarden.core.planner import Observation
from zonewarden.errors import HealthUnavailable, ZoneWardenError


class ProbeHealth:
    def __init__(
        self,
        lbs: Iterable[LbId],
        quorum: QuorumRule,
        *,
        local: Callable[[float], VantageReport] | None = None,
        remote: Callable[[], list[VantageReport]] | None = None,
    ) -> None:
        self.lbs = tuple(lbs)
        self.quorum, self._local, self._remote = quorum, local, remote
        self.last: Evidence | None = None
        self.reports: tuple[VantageReport, ...] = ()  # the ones `last` was combined from

    def evidence(self, now: float) -> Evidence:
        reports = []
        if self._local is not None:
            reports.append(self._local(now))
        if self._remote is not None:
            try:
                reports.extend(self._remote())
            except ZoneWardenError as exc:
                raise HealthUnavailable(f"vantage reports unreadable: {exc}") from exc
        local_name = reports[0].vantage if self._local is not None and reports else None
        latest: dict[str, VantageReport] = {}
        for report in reports:  # our own report wins over our stale published copy
            if report.vantage not in latest or report.vantage == local_name:
                latest[report.vantage] = report
        self.reports = tuple(latest.values())
        self.last = combine(self.reports, self.lbs, now, self.quorum)
        return self.last

    def ready(self, now: float) -> bool:
        """Whether every LB has a fresh reading (the first probe round is in): the
        planner waits for this at start instead of holding on "not probed yet"."""
        return not any(v.reason == NO_READING for v in self.evidence(now).verdicts.values())

    def observe(self, now: float) -> Mapping[LbId, Observation]:
        evidence = self.evidence(now)
        if evidence.problems:
            raise HealthUnavailable("; ".join(evidence.problems))
        return {
            lb: Observation(
                v.healthy, v.capacity, v.reason, v.failing, v.addresses_down, v.addresses_failing
            )
            for lb, v in evidence.verdicts.items()
        }
