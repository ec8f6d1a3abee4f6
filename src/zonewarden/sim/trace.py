"""Replayable traces: JSON lines, a header first, then one line per simulated event.

Rules kept here: the header holds everything a run depends on (protocol, seed, knobs
with the whole fault schedule), so `replay` needs nothing but the file; a replay is
correct only if it reproduces the file byte for byte, and `replay` says where it first
diverged when it does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from zonewarden.sim.faults import Knobs
from zonewarden.sim.world import RunReport, simulate


@dataclass(frozen=True, slots=True)
class ReplayResult:
    identical: bool
    lines: int
    first_difference: int | None  # 1-based line number
    expected: str = ""
    got: str = ""
    report: RunReport | None = None


def write_trace(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def read_header(text: str) -> tuple[str, int, Knobs]:
    first = text.split("\n", 1)[0]
    try:
        head = json.loads(first)["header"]
        return str(head["protocol"]), int(head["seed"]), Knobs.from_json(head["knobs"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"not a ZoneWarden trace (line 1 has no header): {first[:80]!r}; "
            "write one with `zonewarden sim incident --trace FILE`"
        ) from exc


def replay(path: Path) -> ReplayResult:
    """Re-run the trace's header and compare every line."""
    text = path.read_text(encoding="utf-8")
    protocol, seed, knobs = read_header(text)
    report = simulate(protocol, seed, knobs, keep_trace=True)
    assert report.trace is not None
    expected = text.rstrip("\n").split("\n")
    got = report.trace
    for i, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return ReplayResult(False, len(got), i + 1, a, b, report)
    if len(expected) != len(got):
        n = min(len(expected), len(got))
        return ReplayResult(False, len(got), n + 1, "", "(length differs)", report)
    return ReplayResult(True, len(got), None, report=report)
