"""Clean-up of the etcd store's contents: a content key goes when no kept plan names it.

Every endpoint of every kept plan is covered by a span start (`publish.py`): the start
`(a, name, d)` says plan a gave `name` content d, and so did every plan after it until
one changed it. Whether a start still matters needs one look: its *witness* is the
first kept plan at or above a; the start is alive exactly when the witness gives `name`
content d (if it gives another, every plan of the span is gone, and since no plan can
ever appear below a kept one, a dead start stays dead). A start's witness changes only
when the witness is deleted, so each deletion Txn queues the generations whose starts it
may have killed (`gcq/`: the range from the deleted plan's kept neighbour below, up to
it) and `collect_garbage` looks at those starts only: its cost follows what was deleted,
not what is kept.

Rules kept here:
- a dead start's ref key is deleted without compares (dead stays dead), then its packed
  start key (`rs/`) is rewritten without it, compared unchanged since read;
- a content key is deleted only together with the last of its ref keys, by a Txn that
  compares that no ref key of that content changed since the read that found them all
  dead; a publish that names the content again puts it (same bytes) in the Txn that
  writes its ref key, so if the delete commits first the publish writes the content
  back, and if the publish commits first the delete's compare fails;
- a start above the newest kept plan (a publish still writing) is alive;
- the work is idempotent: a queue entry is deleted after its starts and contents are
  done, and a clean-up that dies half-way leaves it for the next one.
"""

from __future__ import annotations

import bisect
import json
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from zonewarden.core.model import EndpointName, Generation
from zonewarden.errors import StoreCorrupt
from zonewarden.stores.etcd import ops as ec
from zonewarden.stores.etcd.base import Conflict, _chunks
from zonewarden.stores.etcd.content import PAGE, ContentReads
from zonewarden.stores.etcd.keys import GEN_WIDTH, dumps
from zonewarden.stores.etcd.ops import KV, Json

Start = tuple[Generation, EndpointName]


@dataclass
class Swept:
    """What one pass deleted."""

    starts: int = 0
    contents: list[str] = field(default_factory=list)


class ContentGc(ContentReads):
    def _queue_op(self, ranges: Sequence[tuple[int, int]]) -> Json:
        """The put that queues the span starts in each (below, deleted] generation range."""
        return ec.put(self.keys.gc_entry(uuid.uuid4().hex), dumps([list(r) for r in ranges]))

    def _kept_below(self, present: Sequence[int], g: int) -> int:
        i = bisect.bisect_left(present, g)
        return present[i - 1] if i else 0

    def _alive(self, present: Sequence[int], rev: int, start: Start, digest: str) -> bool:
        a, name = start
        i = bisect.bisect_left(present, a)
        if i == len(present):
            return True  # above every kept plan: a publish that may still be writing
        witness = self._digest_map(Generation(present[i]), rev)
        return witness is None or witness.get(name) == digest

    def collect_garbage(self) -> Swept:
        """Delete the dead span starts the queue names and the contents no kept plan
        names any more; see the module docstring. Not audited on its own: it only
        finishes the deletions the clean-up row already records."""
        k = self.keys
        queue = self._read([ec.get(k.gc_queue, prefix=True)])[1][0]
        swept = Swept()
        if not queue:
            return swept
        rev, (plans,) = self._read([ec.get(k.plans, prefix=True, keys_only=True)])
        present = sorted(self._generations(plans))
        dead: dict[str, list[Start]] = {}
        packs: list[tuple[KV, dict[EndpointName, str]]] = []  # start keys, what stays
        for lo, hi in _merged(queue_ranges(queue)):
            for kv in self._paged(k.starts_from(lo + 1), k.starts_from(hi + 1), rev, False):
                a = k.start_of(kv.key)[0]
                entries = self._decode_map([kv])
                gone = [n for n, d in entries.items() if not self._alive(present, rev, (a, n), d)]
                for n in gone:
                    dead.setdefault(entries[n], []).append((a, n))
                if gone:
                    packs.append((kv, {n: d for n, d in entries.items() if n not in gone}))
        plain: list[tuple[str, Start]] = []
        doomed: list[tuple[str, list[Start]]] = []
        all_refs = self._refs_of(list(dead), rev)
        for digest, starts in dead.items():
            refs = all_refs[digest]
            others = sorted(set(refs) - set(starts), reverse=True)  # newest most likely alive
            if any(self._alive(present, rev, s, digest) for s in others):
                plain += [(digest, s) for s in starts]
            else:
                doomed.append((digest, sorted(set(refs) | set(starts))))
        swept.starts += self._delete_starts(plain)
        self._delete_contents(doomed, rev, swept)
        self._rewrite_starts(packs)  # after the refs: a crash leaves a stale start, no leak
        for chunk in _chunks(queue, self.max_txn_ops):
            self._commit([], [ec.delete(kv.key) for kv in chunk])
        return swept

    def _refs_of(self, digests: Sequence[str], rev: int) -> dict[str, list[Start]]:
        """The starts every ref key of each digest names: one range per digest, as many
        ranges per read as a Txn holds (a digest with more refs than a range's limit is
        read again page by page)."""
        k = self.keys
        out: dict[str, list[Start]] = {}
        for chunk in _chunks(list(digests), self.max_txn_ops):
            ops = [
                ec.get_range(k.refs(d), ec.prefix_end(k.refs(d)), keys_only=True, limit=PAGE)
                for d in chunk
            ]
            for d, kvs in zip(chunk, self._read(ops, rev)[1], strict=True):
                if len(kvs) >= PAGE:
                    kvs = self._paged(k.refs(d), ec.prefix_end(k.refs(d)), rev, True)
                out[d] = [self._ref_start(d, kv) for kv in kvs]
        return out

    def _ref_start(self, digest: str, kv: KV) -> Start:
        gen, _, name = self.keys.tail(kv.key, self.keys.refs(digest)).partition("/")
        if len(gen) != GEN_WIDTH or not gen.isdigit():
            raise StoreCorrupt(f"etcd key {kv.key!r} is no content reference")
        return Generation(int(gen)), EndpointName(name)

    def _start_deletes(self, digest: str, starts: Sequence[Start]) -> list[Json]:
        """The ref keys of dead starts (their packed start keys: `_rewrite_starts`)."""
        return [ec.delete(self.keys.ref(digest, a, n)) for a, n in starts]

    def _delete_starts(self, starts: Sequence[tuple[str, Start]]) -> int:
        for chunk in _chunks(list(starts), self.max_txn_ops):
            self._commit([], [op for d, s in chunk for op in self._start_deletes(d, [s])])
        return len(starts)

    def _rewrite_starts(self, packs: Sequence[tuple[KV, dict[EndpointName, str]]]) -> None:
        """Packed start keys without their dead starts (deleted once empty), each
        compared unchanged since read; one another clean-up rewrote first is left to
        the next pass (a stale entry is dead, so it only costs a look)."""
        for chunk in _chunks(list(packs), self.max_txn_ops):
            compares = [ec.compare_mod(kv.key, kv.mod_revision) for kv, _ in chunk]
            ops = [_rewrite(kv, keep) for kv, keep in chunk]
            try:
                self._commit(compares, ops)
            except Conflict:
                for compare, op in zip(compares, ops, strict=True):
                    try:
                        self._commit([compare], [op])
                    except Conflict:
                        continue

    def _delete_contents(
        self, doomed: Sequence[tuple[str, list[Start]]], rev: int, swept: Swept
    ) -> None:
        """Each doomed content with its remaining ref keys, several per Txn, each with
        its compare; a Txn that loses a compare is retried one content at a time, and a
        content whose compare still fails is kept (a publish reused it)."""
        budget = self.max_txn_ops - 1
        batch: list[tuple[str, list[Start]]] = []

        def flush() -> None:
            if not batch:
                return
            try:
                self._commit(*self._content_txn(batch, rev))
                swept.contents += [d for d, _ in batch]
                swept.starts += sum(len(s) for _, s in batch)
            except Conflict:
                for one in batch:
                    try:
                        self._commit(*self._content_txn([one], rev))
                    except Conflict:
                        continue
                    swept.contents.append(one[0])
                    swept.starts += len(one[1])
            batch.clear()

        for digest, starts in doomed:
            keep = max(0, len(starts) - (budget - 1))
            if keep:  # more refs than one Txn holds: the first ones go ahead (all dead)
                swept.starts += self._delete_starts([(digest, s) for s in starts[:keep]])
                starts = starts[keep:]
            if sum(len(s) for _, s in batch) + len(starts) + 2 * len(batch) + 2 > budget:
                flush()
            batch.append((digest, starts))
        flush()

    def _content_txn(
        self, batch: Sequence[tuple[str, list[Start]]], rev: int
    ) -> tuple[list[Json], list[Json]]:
        k = self.keys
        compares = [ec.compare_unchanged_since(k.refs(d), rev) for d, _ in batch]
        ops = [op for d, starts in batch for op in self._start_deletes(d, starts)]
        ops += [ec.delete(k.blob(d)) for d, _ in batch]
        return compares, ops


def _rewrite(kv: KV, keep: dict[EndpointName, str]) -> Json:
    if not keep:
        return ec.delete(kv.key)
    return ec.put(kv.key, zlib.compress(dumps(keep)))


def queue_ranges(queue: Sequence[KV]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for kv in queue:
        try:
            out += [(int(lo), int(hi)) for lo, hi in json.loads(kv.value)]
        except (ValueError, TypeError) as exc:
            raise StoreCorrupt(f"etcd key {kv.key!r}: not a clean-up queue entry") from exc
    return out


def _merged(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """(lo, hi] ranges merged where they touch or overlap."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


class ContentCheck(ContentGc):
    def content_problems(self, *, leaks: bool = True) -> list[str]:
        """What is wrong with the content layout at one revision: a kept plan naming a
        content that is not stored (a plan that cannot be read), and with `leaks` a
        content key no ref key names (kept for ever: harmless but a bug). Reads every
        kept plan's map: an operator's check, not a hot path."""
        k = self.keys
        rev, (plans,) = self._read([ec.get(k.plans, prefix=True, keys_only=True)])
        named: dict[str, int] = {}
        for g in sorted(self._generations(plans)):
            digests = self._digest_map(g, rev) if self._has_map(g, rev) else None
            for d in set((digests or {}).values()):
                named.setdefault(d, g)
        stored = {
            k.tail(kv.key, k.blobs)
            for kv in self._paged(k.blobs, ec.prefix_end(k.blobs), rev, True)
        }
        referenced = {
            k.tail(kv.key, k.all_refs).split("/")[0]
            for kv in self._paged(k.all_refs, ec.prefix_end(k.all_refs), rev, True)
        }
        problems = [
            f"plan {g} names content {d}, which is not stored"
            for d, g in sorted(named.items())
            if d not in stored
        ]
        problems += [
            f"content {d} is stored but no span start names it" for d in sorted(stored - referenced)
        ]
        return problems

    def _has_map(self, g: int, rev: int) -> bool:
        op = ec.get(self.keys.plan_maps(g), prefix=True, keys_only=True)
        return bool(self._read([op], rev)[1][0])
