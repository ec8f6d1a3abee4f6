"""Reading plans in the etcd store's content-addressed layout (and schema 2's).

A plan is its header, its map ({endpoint: content digest} in deflated JSON chunks under
`pm/<gen>/`)
and the content keys the map names (`content/<digest>`, each distinct content stored
once). Plans written by schema 2 have no map; their endpoints' contents are under
`pe/<gen>/` instead, and every reader here reads either layout.

Rules kept here:
- a plan's map and contents are read at the revision its header was read at, so a plan
  that exists there is read whole (clean-up deletes a content key only once no kept plan
  names it, see `gc.py`); a header whose map names a missing content is StoreCorrupt;
- contents are immutable by digest and plans by generation, so a process keeps them
  (`_by_digest`, `_maps`, `_plans`): a plan that shares 99% of its contents with the one
  before it costs its map and the 1% of new contents to read.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from zonewarden.core.model import Content, EndpointName, Generation
from zonewarden.errors import StoreCorrupt
from zonewarden.stores.etcd import ops as ec
from zonewarden.stores.etcd.base import PLAN_CACHE, EtcdBase, _chunks
from zonewarden.stores.etcd.keys import decode_content, loads
from zonewarden.stores.etcd.ops import KV, Json

MAP_CACHE = 8  # digest maps kept per process (the publisher's predecessor, GC's witnesses)
BLOB_CACHE = 250_000  # contents kept per process before the cache starts over
PAGE = 2000  # keys per read of a possibly long range


class ContentReads(EtcdBase):
    """Plan reads over the map + content layout, with schema 2's layout read as well."""

    def _plan_reads(self, g: int) -> list[Json]:
        k = self.keys
        return [
            ec.get(k.plan(g)),
            ec.get(k.plan_maps(g), prefix=True),
            ec.get(k.plan_endpoints(g), prefix=True),
        ]

    def _decode_map(self, kvs: list[KV]) -> dict[EndpointName, str]:
        out: dict[EndpointName, str] = {}
        for kv in kvs:  # key order is chunk order, so the map keeps the plan's order
            try:
                raw = zlib.decompress(kv.value)
            except zlib.error as exc:
                raise StoreCorrupt(
                    f"etcd key {kv.key.decode(errors='replace')}: not a plan map ({exc})"
                ) from exc
            body = loads(raw, kv.key)
            if not isinstance(body, dict):
                raise StoreCorrupt(f"etcd key {kv.key.decode(errors='replace')}: not a plan map")
            out.update((EndpointName(str(n)), str(d)) for n, d in body.items())
        return out

    def _read_plan(
        self, g: Generation, revision: int = 0
    ) -> tuple[KV | None, dict[EndpointName, Content]]:
        """Plan g's header and contents, both at one revision (header None: no plan)."""
        rev, (head, maps, pes) = self._read(self._plan_reads(g), revision)
        if not head:
            return None, {}
        return head[0], self._contents_from(g, maps, pes, rev)

    def _contents_from(
        self, g: int, maps: list[KV], pes: list[KV], revision: int
    ) -> dict[EndpointName, Content]:
        if not maps:
            return self._plan_contents(g, pes)  # schema 2: full contents per endpoint
        digests = self._decode_map(maps)
        blobs = self._blobs(set(digests.values()), revision, g)
        return {n: blobs[d] for n, d in digests.items()}

    def _blobs(self, digests: Iterable[str], revision: int, g: int) -> dict[str, Content]:
        """The contents of `digests` (cached ones from memory, the rest read at `revision`)."""
        cache = self._by_digest
        wanted = set(digests)
        out = {d: cache[d] for d in wanted if d in cache}
        missing = sorted(wanted - out.keys())
        for chunk in _chunks(missing, self.max_txn_ops):
            ranges = self._read([ec.get(self.keys.blob(d)) for d in chunk], revision)[1]
            for d, found in zip(chunk, ranges, strict=True):
                if not found:
                    raise StoreCorrupt(
                        f"plan {g} names content {d}, which is not in the store (etcd key "
                        f"{self.keys.blob(d).decode()}); `zonewarden repair` republishes "
                        "the newest plan, and a report of how it happened is welcome"
                    )
                out[d] = decode_content(found[0].value, found[0].key)[0]
        if len(cache) + len(missing) > BLOB_CACHE:
            cache.clear()
        cache.update((d, out[d]) for d in missing)
        return out

    def _digest_map(self, g: Generation, revision: int = 0) -> dict[EndpointName, str] | None:
        """Plan g's {endpoint: digest} (None: no such plan), from either layout."""
        cached = self._maps.get(g)
        if cached is not None:
            return cached
        _, (head, maps, pes) = self._read(self._plan_reads(g), revision)
        if not head:
            return None
        if maps:
            found = self._decode_map(maps)
        else:
            found = {n: c.digest for n, c in self._plan_contents(g, pes).items()}
        self._maps[g] = found
        while len(self._maps) > MAP_CACHE:
            del self._maps[min(self._maps)]
        return found

    def _names_of(self, g: int, revision: int = 0) -> tuple[EndpointName, ...]:
        """The endpoints of plan g (or of an unfinished publish of g) in either layout."""
        k = self.keys
        _, (maps, pes) = self._read(
            [
                ec.get(k.plan_maps(g), prefix=True),
                ec.get(k.plan_endpoints(g), prefix=True, keys_only=True),
            ],
            revision,
        )
        if maps:
            return tuple(self._decode_map(maps))
        base = k.plan_endpoints(g)
        return tuple(EndpointName(k.tail(kv.key, base)) for kv in pes)

    def _plan_cached(self, g: Generation) -> dict[EndpointName, Content] | None:
        """Plan g's contents; plans are immutable and generations never reused, so a
        process may keep them (every write still compares that the plan exists)."""
        cached = self._plans.get(g)
        if cached is None:
            head, contents = self._read_plan(g)
            if head is None:
                return None
            cached = self._plans[g] = contents
            while len(self._plans) > PLAN_CACHE:
                del self._plans[min(self._plans)]
        return cached

    def _paged(self, start: bytes, end: bytes, revision: int, keys_only: bool) -> list[KV]:
        """Every key in [start, end) at `revision`, PAGE keys per read."""
        out: list[KV] = []
        while True:
            page = self._read(
                [ec.get_range(start, end, keys_only=keys_only, limit=PAGE)], revision
            )[1][0]
            out += page
            if len(page) < PAGE:
                return out
            start = page[-1].key + b"\0"
