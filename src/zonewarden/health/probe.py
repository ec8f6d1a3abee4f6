"""Active probes: TCP connect, HTTP and HTTPS GET, and capacity reads, over asyncio.

Rules kept here:
- every probe is bounded: one `timeout` for connect + request + response, and at most
  `max_bytes` read; a response over the cap, a non-HTTP reply, a status outside the
  expected range, a missing body match and any redirect are failures, each with its
  reason (`redirect 302 to http://..., not followed`);
- foreign errors (OSError, ssl.SSLError, TimeoutError) end here, as a failed
  `ProbeResult` with a reason; nothing a target does raises out of `probe`;
- a capacity body that is not a plausible number is refused (core/health.parse_capacity)
  and the caller keeps the last good value.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass

from zonewarden.core.checks import CheckTarget, ProbeSettings
from zonewarden.core.health import parse_capacity


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    reason: str
    elapsed: float = 0.0
    body: bytes = b""


def client_tls(verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def probe(
    target: CheckTarget, settings: ProbeSettings, tls: ssl.SSLContext | None = None
) -> ProbeResult:
    """One check of `target`, never raising: ok or failed with the reason."""
    start = time.monotonic()
    try:
        async with asyncio.timeout(settings.timeout):  # no extra task, unlike wait_for
            result = await _probe(target, settings, tls)
    except TimeoutError:
        result = ProbeResult(False, f"{target.scheme} timed out after {settings.timeout:g} s")
    except ssl.SSLError as exc:
        result = ProbeResult(False, f"tls: {exc.reason or exc}")
    except ConnectionRefusedError:
        result = ProbeResult(False, f"{target.scheme} connect refused")
    except OSError as exc:
        result = ProbeResult(False, f"{target.scheme}: {exc.strerror or exc}")
    except asyncio.IncompleteReadError:
        result = ProbeResult(False, f"{target.scheme}: connection closed mid-response")
    return ProbeResult(result.ok, result.reason, time.monotonic() - start, result.body)


async def _probe(
    target: CheckTarget, settings: ProbeSettings, tls: ssl.SSLContext | None
) -> ProbeResult:
    context = None
    if target.scheme == "https":
        context = tls or client_tls(settings.tls_verify)
    reader, writer = await asyncio.open_connection(target.host, target.port, ssl=context)
    try:
        if target.scheme == "tcp":
            return ProbeResult(True, "tcp connect ok")
        return await _http_get(reader, writer, target, settings)
    finally:
        writer.transport.abort()  # no graceful close: nothing left to say, no TIME_WAIT wait


async def _http_get(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    target: CheckTarget,
    settings: ProbeSettings,
) -> ProbeResult:
    host = target.host_header or target.authority  # the check URL's, whichever address
    writer.write(
        f"GET {target.path} HTTP/1.1\r\nHost: {host}\r\n"
        "User-Agent: zonewarden-health\r\nAccept: */*\r\nConnection: close\r\n\r\n".encode()
    )
    await writer.drain()
    data = b""
    while len(data) <= settings.max_bytes:
        chunk = await reader.read(65536)
        if not chunk:
            break
        data += chunk
    if len(data) > settings.max_bytes:
        return ProbeResult(False, f"response over {settings.max_bytes} bytes (cap), not read")
    return judge(data, settings)


def judge(data: bytes, settings: ProbeSettings) -> ProbeResult:
    """Decide on a complete HTTP response (status line, headers, body)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    parts = line.split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        shown = line[:40] if line.isprintable() else repr(data[:20])
        return ProbeResult(False, f"not an HTTP response ({shown or 'empty'})")
    status = int(parts[1])
    if 300 <= status < 400:
        location = _header(head, b"location") or "(no Location)"
        return ProbeResult(False, f"redirect {status} to {location}, not followed")
    lo, hi = settings.expect_status
    if not lo <= status <= hi:
        return ProbeResult(False, f"http {status}, expected {lo}..{hi}")
    if settings.body_match and settings.body_match.encode() not in body:
        return ProbeResult(False, f"http {status} but body lacks {settings.body_match!r}")
    return ProbeResult(True, f"http {status}", body=body)


def _header(head: bytes, name: bytes) -> str | None:
    for raw in head.split(b"\r\n")[1:]:
        key, _, value = raw.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1", "replace")[:200]
    return None


async def read_capacity(
    url: CheckTarget, settings: ProbeSettings, tls: ssl.SSLContext | None = None
) -> tuple[int | None, str]:
    """GET a capacity URL: (capacity, "") or (None, why it was refused)."""
    plain = ProbeSettings(
        interval=settings.interval,
        timeout=settings.timeout,
        max_bytes=settings.max_bytes,
        tls_verify=settings.tls_verify,
    )
    result = await probe(url, plain, tls)
    if not result.ok:
        return None, f"capacity read failed: {result.reason}"
    return parse_capacity(result.body)
