"""Response rate limiting (RRL) for UDP answers, on by default as in NSD.

A reflection attack sends queries with a victim's address as source; RRL bounds what
the server sends to any one network however many queries arrive. Rules kept here:
- answers are counted in buckets keyed by the source prefix (IPv4 /24, IPv6 /56 by
  default) and the answer's class: a positive or NODATA answer by its query name (case
  folded) and type, NXDOMAIN by its zone (read from the SOA in the authority section,
  whose owner points into the question), so a flood of random names below one zone is
  one bucket, as NSD keys it; every other error by its rcode;
- each bucket is a token bucket refilled at `rate` answers per second up to `rate`; an
  answer that finds it empty is limited, and the bucket may go into debt down to
  `rate * window`, so a source that keeps flooding stays limited for up to `window`
  seconds after it stops (BIND's window);
- of the limited answers every `slip`-th is sent truncated (TC, no records) so that a
  real client behind a limited prefix retries over TCP, which RRL never touches; the
  others are dropped; both are counted;
- the table holds at most `size` buckets: when full it starts afresh (bounded memory
  under floods of spoofed prefixes);
- time comes from the caller (`now`, once per batch), never read here.
"""

from __future__ import annotations

ONE_QUESTION_NO_RECORDS = b"\x00\x01\x00\x00\x00\x00\x00\x00"
ONE_QUESTION_OPT = b"\x00\x01\x00\x00\x00\x00\x00\x01"
BARE_OPT = b"\x00\x00\x29"


class RateLimiter:
    """Decides, answer by answer, whether it goes out whole, truncated or not at all."""

    def __init__(self, rate: int, slip: int = 2, window: float = 15.0, size: int = 100_000):
        self.rate = float(rate)
        self.slip = slip
        self.floor = -self.rate * window
        self.size = size
        self.buckets: dict[bytes, list[float]] = {}
        self.limited = 0
        self.dropped = 0
        self.slipped = 0

    def admit(self, prefix: bytes, out: bytes, now: float) -> bytes | None:
        """`out`, a truncated copy of it (slip), or None (dropped)."""
        rcode = out[3] & 0xF
        if rcode == 0:
            key = (
                prefix
                + out[12 : out.find(0, 12) + 5].lower()
                + (b"+" if out[6] or out[7] else b"0")
            )
        elif rcode == 3:
            key = prefix + b"\x03" + zone_of_nxdomain(out)
        else:
            key = prefix + bytes((rcode,))
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.size:
                self.buckets.clear()
            self.buckets[key] = [self.rate - 1.0, now]
            return out
        balance = bucket[0] + (now - bucket[1]) * self.rate
        balance = (self.rate if balance > self.rate else balance) - 1.0
        bucket[0] = balance if balance > self.floor else self.floor
        bucket[1] = now
        if balance >= 0.0:
            return out
        self.limited += 1
        if self.slip and self.limited % self.slip == 0:
            self.slipped += 1
            return truncated(out)
        self.dropped += 1
        return None


def zone_of_nxdomain(out: bytes) -> bytes:
    """The apex (lower-case wire) of an NXDOMAIN answer: its SOA owner is a pointer into
    the question; b"" when the answer does not have that shape."""
    end = out.find(0, 12) + 5
    if out[8:10] == b"\x00\x01" and len(out) > end + 2 and out[end] & 0xC0 == 0xC0:
        start = ((out[end] & 0x3F) << 8) | out[end + 1]
        if 12 <= start < end:
            return out[start : end - 4].lower()
    return b""


def truncated(out: bytes) -> bytes:
    """`out` with TC set and no records: the question and the OPT (if any) kept."""
    end = out.find(0, 12) + 5
    opt = out[-11:] if out[10:12] != b"\x00\x00" and out[-11:-8] == BARE_OPT else b""
    counts = ONE_QUESTION_OPT if opt else ONE_QUESTION_NO_RECORDS
    return b"".join((out[:2], bytes((out[2] | 0x02, out[3])), counts, out[12:end], opt))
