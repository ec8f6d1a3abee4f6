"""The fenced-write template every external DNS backend shares (octoDNS provider style).

`FencedBackend` owns the rules; an adapter implements three small hooks:

- `_read(names)`   -> the live marker and served addresses of each name (one chunk);
- `_apply(changes, fenced=...)` -> send one atomic batch; return False, with nothing
  applied, when the server rejected it because a marker prerequisite failed; raise
  `BackendUnavailable` (retryable) or `BackendRejected` (permanent) otherwise;
- `_remove(name)`  -> delete the address records of a name (legacy clean-up only).

Rules kept here, for every backend:
- content failing a gate (never empty, weights) is REFUSED before anything is sent;
- the decision "newer than live?" is made against the marker read just before (or the
  caller's hint of it: the ledger's previous entry), and the batch carries that exact
  marker as its prerequisite, so a write whose read went stale fails at the server
  (compare-and-set; a one-time check before starting is not a check);
- batches of up to `batch_size` endpoints; a rejected batch is re-read and resent once
  whole, then endpoint by endpoint, so one contended endpoint never blocks the others;
  FENCED_OUT (a newer marker is live) is success, as in the stores;
- after writing, every endpoint is read back (`_read_back`); a missing marker, or ours
  with other records, is a `BackendRejected` naming the server (never ignored);
- only records with weight > 0 are served: a plain DNS server has no weights, so the
  weights live in the marker's digest (and natively where the server has them).
- `_read_back(changes)` may be overridden to read less than `_read` (see rfc2136).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Self

from zonewarden.core import fence
from zonewarden.core.gates import content_valid
from zonewarden.core.model import Content, EndpointName, Generation, RecordType
from zonewarden.core.outcomes import Outcome
from zonewarden.errors import BackendRejected, BackendUnavailable
from zonewarden.ports import LiveEndpoint, Marker, Served

MAX_RETRIES = 8


def served(content: Content) -> Served:
    """The (type, address) pairs a plain DNS server should hold for `content`."""
    return frozenset((r.rtype, r.address) for r in content.records if r.weight > 0)


def addresses_of(content: Content, rtype: RecordType) -> list[str]:
    return sorted({r.address for r in content.records if r.rtype is rtype and r.weight > 0})


@dataclass(frozen=True, slots=True)
class Change:
    """One endpoint's write: new content and marker, conditional on `expected`."""

    name: EndpointName
    generation: Generation
    content: Content
    expected: Marker | None  # the marker read before; None: the marker must not exist
    previous: LiveEndpoint | None = None  # what was live (some backends delete it exactly)

    @property
    def marker(self) -> Marker:
        return Marker(self.generation, self.content.digest)


def decide(live: LiveEndpoint | None, generation: Generation, content: Content) -> Outcome | None:
    """`core.fence.decide` on the live marker: FENCED_OUT / CURRENT, or None when a write
    is needed. A plain DNS server can drift from its marker (someone edits the records),
    so CURRENT also needs the served addresses to match; otherwise it is rewritten."""
    marker = live.marker if live is not None else None
    seen = None if marker is None else fence.Live(marker.generation, marker.digest)
    verdict = fence.decide(generation, content.digest, seen)
    if verdict is Outcome.CURRENT and live is not None and live.addresses == served(content):
        return verdict
    return verdict if verdict is Outcome.FENCED_OUT else None


def _older(marker: Marker | None, generation: Generation) -> bool:
    return fence.older(marker.generation if marker is not None else None, generation)


def chunks(items: Sequence[EndpointName], size: int) -> Iterator[Sequence[EndpointName]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class FencedBackend(ABC):
    """Validation, batching, retry-on-contention and verification over adapter hooks."""

    description = "dns backend"
    uses_hints = True  # False where a write needs the live record sets themselves
    reads_whole_zone = False  # True: one `_read` lists everything, so never split a read

    def __init__(self, zone: str, *, batch_size: int = 100, verify: bool = True) -> None:
        self.zone = zone if zone.endswith(".") else zone + "."
        self.batch_size = max(1, batch_size)
        self.verify = verify
        self.lock = threading.Lock()  # one batch at a time per backend object

    # -- hooks ---------------------------------------------------------------------------
    @abstractmethod
    def _read(self, names: Sequence[EndpointName]) -> dict[EndpointName, LiveEndpoint]: ...

    @abstractmethod
    def _apply(self, changes: Sequence[Change], *, fenced: bool) -> bool: ...

    @abstractmethod
    def _remove(self, name: EndpointName) -> None: ...

    def close(self) -> None:  # noqa: B027 - a hook with a sensible default
        """Release connections; the default holds none."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the checked API -----------------------------------------------------------------
    def in_zone(self, name: EndpointName) -> None:
        if not (name == self.zone or name.endswith("." + self.zone)):
            raise BackendRejected(
                f"{name} is not inside zone {self.zone} served by {self.description}; "
                "set [backend] zone to the zone that holds the endpoints"
            )

    def read(self, names: Sequence[EndpointName]) -> dict[EndpointName, LiveEndpoint]:
        out: dict[EndpointName, LiveEndpoint] = {}
        for name in names:
            self.in_zone(name)
        if not names:
            return out
        size = len(names) if self.reads_whole_zone else max(self.batch_size, 100)
        for part in chunks(list(names), size):
            out.update(self._read(part))
        return out

    def apply_fenced(
        self,
        generation: Generation,
        contents: Mapping[EndpointName, Content],
        hints: Mapping[EndpointName, Marker | None] | None = None,
    ) -> dict[EndpointName, Outcome]:
        out: dict[EndpointName, Outcome] = {}
        wanted: dict[EndpointName, Content] = {}
        for name, content in contents.items():
            self.in_zone(name)
            if content_valid(name, content) or not served(content):
                out[name] = Outcome.REFUSED
            else:
                wanted[name] = content
        changes = self._optimistic(generation, wanted, hints or {}, out)
        applied: list[Change] = []
        for batch in self._pack(changes):
            if self._send(batch, fenced=True):
                applied += batch
            else:
                applied += self._after_rejection(generation, batch, out)
        for change in applied:
            out[change.name] = Outcome.APPLIED
        if self.verify and applied:
            self._verify(applied)
        return out

    def _pack(self, changes: list[Change]) -> list[list[Change]]:
        """The atomic batches to send: `batch_size` endpoints each (adapters whose batch
        limit counts records, not endpoints, pack by their own measure)."""
        return [changes[i : i + self.batch_size] for i in range(0, len(changes), self.batch_size)]

    def _optimistic(
        self,
        generation: Generation,
        wanted: Mapping[EndpointName, Content],
        hints: Mapping[EndpointName, Marker | None],
        out: dict[EndpointName, Outcome],
    ) -> list[Change]:
        """Changes for every wanted name. A hinted name (the marker the ledger says the
        server holds) is not read first: the server's prerequisite checks the hint, and
        a wrong one only costs a rejected batch and a re-read."""
        use = self.uses_hints
        hinted = {
            n
            for n in wanted
            if use
            and n in hints
            and _older(hints[n], generation)
            and self._hint_usable(n, hints[n])
        }
        unread = [n for n in wanted if n not in hinted]
        live = self.read(unread) if unread else {}
        changes = self._changes(generation, {n: wanted[n] for n in unread}, live, out)
        changes += [Change(n, generation, wanted[n], hints[n]) for n in wanted if n in hinted]
        return changes

    def _hint_usable(self, name: EndpointName, hint: Marker | None) -> bool:
        """Can a write of `name` go without a read, on the ledger's `hint` alone?"""
        return True

    def write_unfenced(self, generation: Generation, name: EndpointName, content: Content) -> None:
        """Legacy: write without any prerequisite (last writer wins, as in 2025)."""
        self.in_zone(name)
        previous = self.read([name]).get(name)
        change = Change(name, generation, content, None, previous)
        self._send([change], fenced=False)

    def remove_records(self, name: EndpointName) -> None:
        """Legacy clean-up: the plan's records go, the name is left answering nothing."""
        self.in_zone(name)
        with self.lock:
            self._remove(name)

    # -- leaves --------------------------------------------------------------------------
    def _send(self, batch: Sequence[Change], *, fenced: bool) -> bool:
        with self.lock:
            return self._apply(batch, fenced=fenced)

    def _changes(
        self,
        generation: Generation,
        wanted: Mapping[EndpointName, Content],
        live: Mapping[EndpointName, LiveEndpoint],
        out: dict[EndpointName, Outcome],
    ) -> list[Change]:
        changes = []
        for name, content in wanted.items():
            current = live.get(name)
            verdict = decide(current, generation, content)
            if verdict is not None:
                out[name] = verdict
                continue
            expected = current.marker if current is not None else None
            changes.append(Change(name, generation, content, expected, current))
        return changes

    def _after_rejection(
        self, generation: Generation, batch: Sequence[Change], out: dict[EndpointName, Outcome]
    ) -> list[Change]:
        """A batch failed its prerequisites: re-read it and send it again as one batch;
        if that fails too, someone is writing these names now: go one at a time."""
        if len(batch) > 1:
            names = [c.name for c in batch]
            retry = self._changes(
                generation, {c.name: c.content for c in batch}, self.read(names), out
            )
            if not retry or self._send(retry, fenced=True):
                return retry
            batch = retry
        return self._one_by_one(generation, batch, out)

    def _one_by_one(
        self, generation: Generation, batch: Sequence[Change], out: dict[EndpointName, Outcome]
    ) -> list[Change]:
        applied = []
        for change in batch:
            for _ in range(MAX_RETRIES):
                fresh = self.read([change.name])
                retry = self._changes(generation, {change.name: change.content}, fresh, out)
                if not retry:
                    break  # someone else got there: FENCED_OUT or CURRENT
                if self._send(retry, fenced=True):
                    applied.append(retry[0])
                    break
            else:
                self._explain_rejection(change.name)
                raise BackendUnavailable(
                    f"{self.description}: {change.name} changed under every one of "
                    f"{MAX_RETRIES} attempts; another writer is very busy, retry later"
                )
        return applied

    def _explain_rejection(self, name: EndpointName) -> None:
        """Raise `BackendRejected` if a write of `name` can never pass (adapters know
        why, e.g. a marker of another type); return to report contention."""
        return None

    def _read_back(self, applied: Sequence[Change]) -> dict[EndpointName, LiveEndpoint]:
        """What verification reads; adapters may read less (see rfc2136)."""
        return self.read([c.name for c in applied])

    def _verify(self, applied: Sequence[Change]) -> None:
        back = self._read_back(applied)
        for change in applied:
            live = back.get(change.name)
            marker = live.marker if live is not None else None
            if marker is not None and marker.generation > change.generation:
                continue  # overtaken by a newer writer after ours: fine
            if live is None or marker != change.marker:
                raise BackendRejected(
                    f"{self.description}: read-back of {change.name} shows marker "
                    f"{marker.text() if marker else 'none'} after writing "
                    f"{change.marker.text()}; the server did not keep the update"
                )
            if live.addresses != served(change.content):
                raise BackendRejected(
                    f"{self.description}: read-back of {change.name} at generation "
                    f"{change.generation} serves {len(live.addresses)} addresses, expected "
                    f"{len(served(change.content))}; something else edits this name"
                )
