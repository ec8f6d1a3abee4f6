"""DNS cookies (RFC 7873), an option of the embedded server (off by default, as in NSD 4.6).

Rules kept here:
- with cookies on, every answer to a query carrying a COOKIE option carries one back:
  the client's 8 octets and a fresh 16-octet server cookie in the layout of RFC 9018
  (version 1, three reserved octets, a 32-bit timestamp, an 8-octet keyed hash of the
  client cookie, those 8 octets and the client's address); the hash is BLAKE2b keyed
  with the server secret, not SipHash-2-4, so a server cookie is valid only at servers
  sharing this implementation and secret (set `cookie_secret` when several processes
  or machines serve one address);
- a COOKIE option whose length is neither 8 nor 16-40 octets gets FORMERR (7873 5.2.2);
- a server cookie is valid when its hash matches and its timestamp lies within the past
  hour and five minutes of the future (RFC 9018 4.3); queries are answered either way
  (a missing or stale cookie is not enforced, 7873 5.2.3), and `valid` counts how many
  were;
- the clock and the secret come in from the caller (`now`, `secret`).
"""

from __future__ import annotations

import hashlib
import struct

OPT_COOKIE = 10
VERSION = b"\x01\x00\x00\x00"
MAX_AGE, MAX_AHEAD = 3600, 300


class Cookies:
    def __init__(self, secret: bytes) -> None:
        if len(secret) != 16:
            raise ValueError("the cookie secret must be 16 octets")
        self.secret = secret
        self.valid = 0
        self.issued = 0

    def server_cookie(self, client: bytes, source: bytes, now: int) -> bytes:
        head = VERSION + struct.pack("!I", now & 0xFFFFFFFF)
        mac = hashlib.blake2b(client + head + source, key=self.secret, digest_size=8).digest()
        return head + mac

    def is_valid(self, cookie: bytes, source: bytes, now: int) -> bool:
        if len(cookie) != 24 or cookie[8:12] != VERSION:
            return False
        (stamp,) = struct.unpack_from("!I", cookie, 12)
        if not now - MAX_AGE <= stamp <= now + MAX_AHEAD:
            return False
        return self.server_cookie(cookie[:8], source, stamp) == cookie[8:]

    def option(self, cookie: bytes, source: bytes, now: int) -> bytes | None:
        """The COOKIE option (code, length, data) for the reply; None when malformed."""
        if len(cookie) != 8 and not 16 <= len(cookie) <= 40:
            return None
        self.valid += self.is_valid(cookie, source, now)
        self.issued += 1
        data = cookie[:8] + self.server_cookie(cookie[:8], source, now)
        return struct.pack("!HH", OPT_COOKIE, len(data)) + data


def with_option(opt: bytes, option: bytes) -> bytes:
    """A bare 11-octet OPT record with `option` as its RDATA."""
    return opt[:9] + struct.pack("!H", len(option)) + option
