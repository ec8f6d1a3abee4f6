"""The admin API as one ASGI app (FastAPI on Starlette): routes, guards, error shapes.

Rules kept here:
- every error is JSON `{"error": "<what happened and what to do>"}` with a 4xx/5xx
  status; no traceback ever reaches a client;
- a mutating call (any method but GET/HEAD/OPTIONS under /api/) passes the bearer token
  and the rate limit before routing, so a refused call's body is never read;
- bodies over `max_body` bytes get 413; unknown paths 404;
- the view is refreshed in the background every `refresh` seconds; requests never wait
  for the store except for single plans, diffs and audit pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from zonewarden import __version__
from zonewarden.api import actions, pages, reads
from zonewarden.api.guards import BodyCap, RateLimit, Refused, TokenFile
from zonewarden.api.metrics import registry_for
from zonewarden.api.view import RegionView
from zonewarden.config import Config
from zonewarden.errors import NotFound, PermanentError, RetryableError, ZoneWardenError
from zonewarden.ports import RegionStore

log = logging.getLogger("zonewarden.api")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class ApiOptions:
    token_file: Path | None = None
    rate_per_second: float = 2.0
    rate_burst: int = 10
    max_body: int = 64 * 1024
    refresh: float = 0.5


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class Gate:
    """ASGI middleware: token and rate limit for mutating calls, before routing."""

    def __init__(self, app: ASGIApp, tokens: TokenFile, rate: RateLimit) -> None:
        self.app, self.tokens, self.rate = app, tokens, rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and scope["path"].startswith("/api/")
        ):
            headers = dict(scope.get("headers") or ())
            try:
                self.tokens.check(headers.get(b"authorization", b"").decode("latin-1") or None)
                client = scope.get("client")
                self.rate.take(client[0] if client else "unknown")
            except Refused as exc:
                await _error(exc.status, exc.message, exc.headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {
                "error": _validation_message(exc),
                "detail": json.loads(json.dumps(exc.errors(), default=str)),
            },
            status_code=422,
        )

    @app.exception_handler(HTTPException)
    async def http(_: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404:
            message = "no such page: see /openapi.json for the API, / for the dashboard"
        return _error(exc.status_code, message, dict(exc.headers or {}))

    @app.exception_handler(ZoneWardenError)
    async def domain(_: Request, exc: ZoneWardenError) -> JSONResponse:
        if isinstance(exc, NotFound):
            return _error(404, str(exc))
        if isinstance(exc, RetryableError):
            return _error(503, str(exc), {"Retry-After": str(max(1, round(exc.delay)))})
        if isinstance(exc, PermanentError):
            return _error(409, str(exc))
        return _error(500, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in the API")
        return _error(500, f"internal error ({exc.__class__.__name__}); see the API's log")


def create_app(
    config: Config, store: RegionStore, options: ApiOptions | None = None
) -> tuple[ASGIApp, FastAPI]:
    """The ASGI app to serve (guards around FastAPI) and the FastAPI app inside it."""
    options = options or ApiOptions()
    view = RegionView(store, max_lag=config.reconciler.max_lag)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(view.refresh)
        task = asyncio.create_task(_refresh_forever(view, options.refresh))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="ZoneWarden admin API",
        version=__version__,
        description=(
            "Read the region's state; operate it (freeze, pin, rollback, repair, drain, lb disable/enable) with the "
            "bearer token from [api] token_file."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.view = view
    app.state.config = config
    app.state.started = time.time()
    app.state.registry = registry_for(view)
    tokens = TokenFile(options.token_file)
    rate = RateLimit(options.rate_per_second, options.rate_burst)
    app.state.tokens, app.state.rate = tokens, rate
    _handlers(app)
    app.include_router(reads.router)
    app.include_router(actions.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(pages.STATIC)), name="static")
    guarded: ASGIApp = BodyCap(Gate(app, tokens, rate), max_body=options.max_body)
    return guarded, app


async def _refresh_forever(view: RegionView, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(view.refresh)
        except Exception:  # the view logs store errors itself; never let the loop die
            log.exception("refresh failed")


def openapi_document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()
