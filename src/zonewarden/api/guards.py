"""What stands before every mutating call: a bearer token, a rate limit, a body cap.

Rules kept here:
- a mutating call without the token, or with another one, gets 401 and changes nothing;
  the token is compared in constant time and re-read when its file changes, so
  replacing the file expires the old token at once;
- no token file configured means no mutating call is possible (401, saying which key
  to set), never an open API;
- mutating calls are rate limited per client (token bucket): 429 with Retry-After;
- request bodies larger than `max_body` bytes get 413 before anything reads them.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zonewarden.resilience.rate_limit import KeyedRateLimit


class Refused(Exception):
    """An HTTP error with a plain message (rendered as {"error": message})."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class TokenFile:
    path: Path | None
    _mtime: float = -1.0
    _token: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> str:
        if self.path is None:
            return ""
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime
            except OSError:
                return ""
            if mtime != self._mtime:
                self._token = self.path.read_text(errors="replace").strip()
                self._mtime = mtime
            return self._token

    def check(self, authorization: str | None) -> None:
        challenge = {"WWW-Authenticate": 'Bearer realm="zonewarden"'}
        expected = self.current()
        if not expected:
            where = f" ({self.path} is missing or empty)" if self.path else ""
            raise Refused(
                401,
                "mutating calls are disabled: set [api] token_file in the config" + where,
                challenge,
            )
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Refused(401, "this call needs 'Authorization: Bearer <token>'", challenge)
        if not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise Refused(401, "wrong or expired token", challenge)


@dataclass
class RateLimit:
    """Token bucket per client: `burst` calls at once, then `per_second` (the bucket is
    `resilience.KeyedRateLimit`, whose counters the metrics export)."""

    per_second: float = 2.0
    burst: int = 10
    _limit: KeyedRateLimit = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._limit = KeyedRateLimit(self.per_second, self.burst, name="api")

    def take(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        wait = self._limit.take(client, now)
        if wait:
            raise Refused(
                429,
                f"too many changes: at most {self.burst} at once and {self.per_second:g}/s "
                f"per client; retry in {wait:.1f}s",
                {"Retry-After": str(max(1, round(wait + 0.5)))},
            )


class BodyCap:
    """ASGI middleware: refuse request bodies over `max_body` bytes with 413."""

    def __init__(self, app: ASGIApp, max_body: int = 64 * 1024) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await _too_large(send, self.max_body)
            return
        seen = 0
        started = False

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _BodyTooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped, tracking)
        except _BodyTooLarge:
            if not started:
                await _too_large(send, self.max_body)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"error": f"request body larger than {limit} bytes"}).encode()
    headers: list[Any] = [(b"content-type", b"application/json"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
