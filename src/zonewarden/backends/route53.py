"""Route 53 backend (boto3, extra `route53`): weighted record sets fenced by a marker.

Layout per endpoint N:
- one weighted record set per served record: Name N, Type A/AAAA,
  SetIdentifier "<lb>/<address>", Weight = the plan's weight, one value;
- the marker: a plain TXT record set at `_zw.N` holding "zw1 g=<gen> d=<digest>".

The fence. A change batch is atomic in Route 53. Every fenced batch DELETEs the exact
marker value read before and CREATEs the new one (or only CREATEs it for a new
endpoint, which Route 53 rejects if it exists). A stale enactor's batch names a marker
that is gone, so Route 53 rejects the whole batch (InvalidChangeBatch): FENCED_OUT
after the base class re-reads.

Large endpoints. A batch holds at most MAX_CHANGES changes, so several endpoints share
one batch only while they fit, and one endpoint larger than a batch is split into steps
that are each safe alone: additions before removals (never the last answer), and the
marker moves in every step (exact DELETE + CREATE), through intermediate markers of the
same generation with a step digest, so a stale writer is fenced at every step and a
crash mid-way is repaired by the next write (same generation, other digest).

Reads. A batch must DELETE the exact old sets, so they must be known: one listing of
the hosted zone serves every name a write needs (Route 53 has no per-name query that
returns a name's sets and its marker together). Through the region, the ledger's
previous entry is a hint: a name whose sets this process last read or wrote with that
marker, or a name the ledger never wrote that the last listing showed empty, is written
without listing again. A stale cache fails Route 53's check and is re-read; records
added by hand after the last listing are not removed by such a write (the next read,
after a rejected batch or a restart, sees them and the write after it removes them).

Read-back. A batch Route 53 accepted was checked whole against the live sets and
applied whole, so its result is known; re-listing the zone to confirm it cost 60% of a
fenced write on moto. `verify=None` (the default) therefore reads back only where the
endpoint was not found to enforce those checks; `verify=True` always reads back.

Fail-open. Route 53 answers every record of a weighted set equally when all weights are
0, and treats a set whose targets are all unhealthy as all healthy. ZoneWarden's gates
already refuse total weight 0; `fail_open_warnings` names the remaining cases for the
planner and `backend check` (core/failopen.py).

What holds where (tested, tests/backends/test_route53.py and test_race.py):
- Route 53 validates a whole batch against the live sets (exact-value DELETE, CREATE
  of an existing set rejected): every write is fenced at the server.
- Stock moto_server 5 checks a DELETE against every value the name ever had (its
  journal), accepts a CREATE over a live set, and deletes a weighted set by its
  SetIdentifier in every name of the zone. There a stale batch is NOT rejected; the
  fence is the region store's ledger plus the marker read just before each batch, and
  a stale batch sent inside that window lands. `probe()` finds this out on a scratch
  name and `apply_fenced` logs it once per process for any non-AWS endpoint.
- The multi-process race passes against moto with Route 53's checks
  (tests/backends/moto_exact.py) and regresses with those checks turned off, so the
  server-side check is what holds the fence.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from zonewarden.backends.base import MAX_RETRIES, Change, FencedBackend
from zonewarden.core.failopen import fail_open_warnings
from zonewarden.core.model import Content, EndpointName, Generation, RecordType
from zonewarden.core.outcomes import Outcome
from zonewarden.errors import BackendRejected, BackendUnavailable, MissingExtra
from zonewarden.ports import LiveEndpoint, Marker

log = logging.getLogger("zonewarden.backends.route53")
MAX_CHANGES = 500  # Route 53 allows 1000 values per batch; stay well under
MARKER_TTL = 60
RETRYABLE_CODES = {"Throttling", "PriorRequestNotComplete", "ServiceUnavailable", "RequestExpired"}
RRSet = dict[str, Any]


def marker_name(name: str) -> str:
    return f"_zw.{name}"


class Route53Backend(FencedBackend):
    """Fenced change batches to one hosted zone."""

    def __init__(
        self,
        hosted_zone_id: str,
        zone: str,
        *,
        endpoint_url: str | None = None,
        region_name: str = "us-east-1",
        batch_size: int = 40,
        verify: bool | None = None,
        wait_insync: bool = True,
        insync_timeout: float = 300.0,
        client: Any = None,  # a boto3 client to use instead: close() closes it too
    ) -> None:
        super().__init__(zone, batch_size=batch_size, verify=verify is not False)
        self.hosted_zone_id = hosted_zone_id.removeprefix("/hostedzone/")
        self.description = f"Route 53 hosted zone {self.hosted_zone_id} ({self.zone})"
        if endpoint_url:
            self.description += f" at {endpoint_url}"
        self.wait_insync, self.insync_timeout = wait_insync, insync_timeout
        self.client = client or _client(endpoint_url, region_name)
        self._raw: dict[str, dict[tuple[str, str], RRSet]] = {}
        self._owners: set[str] | None = None  # every owner name of the last listing
        aws = endpoint_url is None and client is None
        # AWS itself fences (documented); anything else is probed before the first write
        self.fenced_at_server: bool | None = True if aws else None
        self._probe_first = not aws
        self._auto_verify = verify is None
        if self._auto_verify:
            self.verify = not aws

    def _hint_usable(self, name: EndpointName, hint: Marker | None) -> bool:
        """A batch DELETEs the exact old record sets, so they must be known: only where
        this process last read or wrote the name and the marker it saw is the ledger's
        hint. A stale cache costs a rejected batch and a re-read, never a wrong write."""
        if name not in self._raw:
            # a name the ledger never wrote, absent from the last listing: nothing to
            # delete there (a marker created since makes our CREATE fail: a re-read)
            if hint is not None or self._owners is None:
                return False
            return not {name.lower(), marker_name(name).lower()} & self._owners
        cached = self._marker_set(name)
        return (Marker.parse(_txt_value(cached)) if cached else None) == hint

    def apply_fenced(
        self,
        generation: Generation,
        contents: Mapping[EndpointName, Content],
        hints: Mapping[EndpointName, Marker | None] | None = None,
    ) -> dict[EndpointName, Outcome]:
        if self._probe_first:
            self._probe_first = False
            facts = self.probe()
            if not self.fenced_at_server:
                log.warning("%s: %s", self.description, "; ".join(facts))
            if self._auto_verify:
                self.verify = not self.fenced_at_server
        for name, content in contents.items():
            for warning in fail_open_warnings(name, content):
                log.warning("%s: %s", self.description, warning)
        return super().apply_fenced(generation, contents, hints)

    reads_whole_zone = True  # one listing of the hosted zone serves every name of a read

    # -- hooks ---------------------------------------------------------------------------
    def _read(self, names: Sequence[EndpointName]) -> dict[EndpointName, LiveEndpoint]:
        wanted = set(names) | {marker_name(n) for n in names}
        raw: dict[str, dict[tuple[str, str], RRSet]] = {}
        owners = set()
        for rrset in self._list():
            owner = rrset["Name"].lower()
            owners.add(owner)
            if owner in wanted and rrset["Type"] in ("A", "AAAA", "TXT"):
                key = (rrset["Type"], rrset.get("SetIdentifier", ""))
                raw.setdefault(owner, {})[key] = rrset
        out = {}
        for n in names:
            self._raw[n] = raw.get(n, {})
            self._raw[marker_name(n)] = raw.get(marker_name(n), {})
            out[n] = _live(n, raw.get(n, {}), raw.get(marker_name(n), {}))
        self._owners = owners
        return out

    def _apply(self, changes: Sequence[Change], *, fenced: bool) -> bool:
        steps = [self._steps(c, fenced=fenced) for c in changes]
        if len(changes) == 1 and len(steps[0]) > 1:
            if not self._apply_steps(steps[0]):
                return False
            self._remember(changes)
            return True
        if any(len(s) > 1 for s in steps) or sum(len(s[0]) for s in steps) > MAX_CHANGES:
            return False  # too large to share a batch: the base retries each one alone
        if not self._submit([change for s in steps for change in s[0]]):
            return False
        self._remember(changes)
        return True

    def _remember(self, changes: Sequence[Change]) -> None:
        """What an accepted batch left at Route 53, so the next write of these names can
        go on the ledger's hint without listing the zone (`_hint_usable`)."""
        for c in changes:
            self._raw[c.name] = _desired(c.name, c.content)
            self._raw[marker_name(c.name)] = {
                ("TXT", ""): _marker_set(c.name, c.marker, MARKER_TTL)
            }

    def _pack(self, changes: list[Change]) -> list[list[Change]]:
        """Up to `batch_size` endpoints while their changes fit one batch; an endpoint
        that needs several steps goes alone (a replace of 8 weighted sets is 18 changes,
        so 40 of them would overflow the batch and be sent one by one)."""
        out: list[list[Change]] = []
        batch: list[Change] = []
        room = 0
        for c in changes:
            steps = self._steps(c, fenced=True)
            size = len(steps[0]) if len(steps) == 1 else MAX_CHANGES + 1
            if batch and (size > room or len(batch) >= self.batch_size):
                out.append(batch)
                batch = []
            if not batch:
                room = MAX_CHANGES
            batch.append(c)
            room -= size
        if batch:
            out.append(batch)
        return out

    def close(self) -> None:
        """Close the boto3 client's connection pool (a client passed in is ours too)."""
        self.client.close()

    def _remove(self, name: EndpointName) -> None:
        self.read([name])
        deletes = [
            {"Action": "DELETE", "ResourceRecordSet": s}
            for (t, _), s in self._raw.get(name, {}).items()
            if t in ("A", "AAAA")
        ]
        if deletes:
            self._submit(deletes)

    # -- batches -------------------------------------------------------------------------
    def _steps(self, c: Change, *, fenced: bool) -> list[list[RRSet]]:
        old = {k: v for k, v in self._raw.get(c.name, {}).items() if k[0] in ("A", "AAAA")}
        new = _desired(c.name, c.content)
        adds = [
            {"Action": "UPSERT", "ResourceRecordSet": s} for k, s in new.items() if old.get(k) != s
        ]
        removes = [
            {"Action": "DELETE", "ResourceRecordSet": s} for k, s in old.items() if k not in new
        ]
        room = MAX_CHANGES - 2
        if len(adds) + len(removes) <= room:
            chunks = [adds + removes]  # one atomic batch: order inside it does not matter
        else:  # each step alone must be safe: every addition before any removal
            chunks = [adds[i : i + room] for i in range(0, len(adds), room)]
            chunks += [removes[i : i + room] for i in range(0, len(removes), room)]
        markers = [Marker(c.generation, f"{c.content.digest}~{i}") for i in range(len(chunks))]
        markers[-1] = c.marker
        previous = self._marker_set(c.name) if fenced else None
        if (
            fenced
            and c.expected is not None
            and (previous is None or Marker.parse(_txt_value(previous)) != c.expected)
        ):
            previous = _marker_set(c.name, c.expected, MARKER_TTL)
        steps = []
        for marker, chunk in zip(markers, chunks, strict=True):
            head = self._marker_changes(c.name, previous, marker, fenced=fenced)
            steps.append(head + chunk)
            previous = _marker_set(c.name, marker, MARKER_TTL)
        return steps

    def _marker_changes(
        self, name: str, previous: RRSet | None, marker: Marker, *, fenced: bool
    ) -> list[RRSet]:
        new = _marker_set(name, marker, MARKER_TTL)
        if not fenced:
            return [{"Action": "UPSERT", "ResourceRecordSet": new}]
        if previous is None:
            return [{"Action": "CREATE", "ResourceRecordSet": new}]
        return [
            {"Action": "DELETE", "ResourceRecordSet": previous},
            {"Action": "CREATE", "ResourceRecordSet": new},
        ]

    def _marker_set(self, name: str) -> RRSet | None:
        return self._raw.get(marker_name(name), {}).get(("TXT", ""))

    def _apply_steps(self, steps: list[list[RRSet]]) -> bool:
        if not self._submit(steps[0]):
            return False
        for step in steps[1:]:
            for _ in range(MAX_RETRIES):
                if self._submit(step):
                    break
            else:
                raise BackendUnavailable(
                    f"{self.description}: a split write stopped part-way (records valid, "
                    "marker at an intermediate step); the next write repairs it"
                )
        return True

    def _submit(self, changes: list[RRSet]) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.change_resource_record_sets(
                HostedZoneId=self.hosted_zone_id,
                ChangeBatch={"Comment": "zonewarden", "Changes": changes},
            )
        except ClientError as exc:
            return self._client_error(exc)
        except BotoCoreError as exc:
            raise BackendUnavailable(
                f"{self.description} is unreachable ({exc}); ZoneWarden retries"
            ) from exc
        if self.wait_insync:
            self._wait(answer["ChangeInfo"])
        return True

    def _client_error(self, exc: Any) -> bool:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code == "InvalidChangeBatch" or (
            code == "InvalidInput" and "Action=DELETE" in message  # moto's wording
        ):
            return False  # a marker or record changed since read: the fence held
        if code in RETRYABLE_CODES:
            raise BackendUnavailable(f"{self.description}: {code} ({message}); retrying") from exc
        raise BackendRejected(
            f"{self.description} rejected the change batch: {code}: {message}; check the "
            "hosted zone id, the zone name and the credentials' route53 permissions"
        ) from exc

    def _wait(self, info: RRSet) -> None:
        deadline = time.monotonic() + self.insync_timeout
        status, delay = info.get("Status"), 0.5
        while status != "INSYNC":
            if time.monotonic() > deadline:
                raise BackendUnavailable(
                    f"{self.description}: change {info['Id']} not INSYNC after "
                    f"{self.insync_timeout:g}s; it stays applied, ZoneWarden re-checks"
                )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            status = self.client.get_change(Id=info["Id"])["ChangeInfo"]["Status"]

    def _list(self) -> list[RRSet]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._pages(300)
        except ClientError as exc:
            self._client_error(exc)
            raise
        except BotoCoreError as exc:
            raise BackendUnavailable(
                f"{self.description} is unreachable ({exc}); ZoneWarden retries"
            ) from exc

    def _pages(self, size: int) -> list[RRSet]:
        """Every record set, page by page. moto 5 loses the SetIdentifier of the next
        page's start inside weighted sets (the same token comes back): then read again
        with pages large enough to need no token there."""
        out: list[RRSet] = []
        start: dict[str, str] = {}
        while True:
            page = self.client.list_resource_record_sets(
                HostedZoneId=self.hosted_zone_id, MaxItems=str(size), **start
            )
            out += page["ResourceRecordSets"]
            if not page.get("IsTruncated"):
                return out
            token = {"StartRecordName": page["NextRecordName"]}
            token["StartRecordType"] = page["NextRecordType"]
            if page.get("NextRecordIdentifier"):
                token["StartRecordIdentifier"] = page["NextRecordIdentifier"]
            elif out and out[-1].get("SetIdentifier") and size < 100_000:
                return self._pages(size * 10)
            start = token

    def _set_identifier_scoped(self, scratch: str) -> bool:
        """Does a DELETE of a weighted set leave the same SetIdentifier at another name?"""
        one, two = f"a.{scratch}", f"b.{scratch}"
        sets = [
            {
                "Name": n,
                "Type": "A",
                "SetIdentifier": "probe/192.0.2.1",
                "Weight": 1,
                "TTL": MARKER_TTL,
                "ResourceRecords": [{"Value": "192.0.2.1"}],
            }
            for n in (one, two)
        ]
        self._submit([{"Action": "CREATE", "ResourceRecordSet": s} for s in sets])
        self._submit([{"Action": "DELETE", "ResourceRecordSet": sets[0]}])
        survived = any(r["Name"].lower() == two for r in self._list())
        if survived:
            self._submit([{"Action": "DELETE", "ResourceRecordSet": sets[1]}])
        return survived

    # -- operator checks -----------------------------------------------------------------
    def probe(self) -> list[str]:
        """Which guarantees this endpoint enforces, found by trying on a scratch name.

        Route 53 rejects a DELETE whose values differ from the live record set and a
        CREATE of an existing one. moto 5 checks a DELETE against every value the
        name ever had (its change journal), not the live one, accepts a CREATE over an
        existing set, and deletes a weighted set's SetIdentifier at every name: there, a
        stale enactor's batch is NOT rejected, and records of other names can vanish."""
        scratch = f"probe-{uuid.uuid4().hex[:8]}.{self.zone}"
        a, b, c = (_marker_set(scratch, Marker(Generation(0), d), MARKER_TTL) for d in "abc")
        self._submit([{"Action": "CREATE", "ResourceRecordSet": a}])
        dup = self._submit([{"Action": "CREATE", "ResourceRecordSet": c}])
        self._submit([{"Action": "UPSERT", "ResourceRecordSet": b}])
        stale = self._submit([{"Action": "DELETE", "ResourceRecordSet": a}])
        for s in (a, b, c):
            self._submit([{"Action": "DELETE", "ResourceRecordSet": s}])
        scoped = self._set_identifier_scoped(scratch)
        self.fenced_at_server = not dup and not stale and scoped
        return [
            "DELETE of a weighted set: "
            + (
                "removes that name's set only"
                if scoped
                else "ALSO REMOVED the same SetIdentifier at another name: records of other "
                "endpoints can vanish (stock moto); do not serve real traffic from here"
            ),
            "CREATE over an existing record set: "
            + ("ACCEPTED (a new endpoint's first write is not fenced)" if dup else "rejected"),
            "DELETE of a value that is no longer live: "
            + ("ACCEPTED (a stale batch is NOT rejected)" if stale else "rejected"),
            "guarantee: "
            + (
                "every write is fenced at Route 53 (exact marker DELETE + CREATE)"
                if self.fenced_at_server
                else "writes are fenced by the region store's ledger and a marker read just "
                "before each batch; a stale batch sent inside that read-to-write window "
                "would reach this endpoint (real Route 53 rejects it)"
            ),
        ]


def _client(endpoint_url: str | None, region_name: str) -> Any:
    try:
        import boto3
    except ModuleNotFoundError as exc:
        raise MissingExtra("the Route 53 backend", "route53") from exc
    return boto3.client("route53", endpoint_url=endpoint_url, region_name=region_name)


def _desired(name: str, content: Content) -> dict[tuple[str, str], RRSet]:
    out = {}
    for r in content.records:
        if r.weight <= 0:
            continue
        ident = f"{r.lb}/{r.address}"
        out[(str(r.rtype), ident)] = {
            "Name": name,
            "Type": str(r.rtype),
            "SetIdentifier": ident,
            "Weight": r.weight,
            "TTL": content.ttl,
            "ResourceRecords": [{"Value": r.address}],
        }
    return out


def _marker_set(name: str, marker: Marker, ttl: int) -> RRSet:
    return {
        "Name": marker_name(name),
        "Type": "TXT",
        "TTL": ttl,
        "ResourceRecords": [{"Value": f'"{marker.text()}"'}],
    }


def _txt_value(rrset: RRSet) -> str:
    return str(rrset["ResourceRecords"][0]["Value"]).strip('"')


def _live(
    name: EndpointName, sets: dict[tuple[str, str], RRSet], markers: dict[Any, RRSet]
) -> LiveEndpoint:
    marker = None
    txt = markers.get(("TXT", ""))
    if txt is not None:
        marker = Marker.parse(_txt_value(txt))
    addresses, weights, ttl = set(), [], None
    for (rtype, _), s in sets.items():
        for value in s.get("ResourceRecords", []):
            weight = int(s.get("Weight", 1))
            weights.append((RecordType(rtype), value["Value"], weight))
            if weight > 0:
                addresses.add((RecordType(rtype), value["Value"]))
            ttl = s.get("TTL", ttl)
    return LiveEndpoint(name, marker, frozenset(addresses), ttl, tuple(sorted(weights)))
