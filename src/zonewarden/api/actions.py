"""Mutating endpoints of the admin API: the operator actions of the CLI, over HTTP.

Rules kept here:
- every call needs the bearer token (401 without, before the body is even parsed), is
  rate limited (429), and goes through `runtime.operations` (plans) or `runtime.holds`
  (drain, lb disable/enable), the same functions the CLI calls: one rule, one place;
- bodies are JSON objects with known keys only (422 names the bad field); an unknown
  endpoint, generation, LB or AZ is 404 (listing the known ones), a plan a gate refuses is 409 with the gate's message;
- the actor recorded in the audit log is `api:<client address>`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from zonewarden.api.guards import Refused
from zonewarden.api.view import RegionView
from zonewarden.config import Config
from zonewarden.core.model import EndpointName, Generation, check_dns_name
from zonewarden.runtime import holds, operations

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, wrong or expired bearer token"},
    404: {"description": "unknown endpoint, generation, load balancer or AZ"},
    409: {"description": "refused by a safety gate"},
    413: {"description": "request body too large"},
    422: {"description": "malformed body"},
    429: {"description": "rate limited"},
}


BEARER = HTTPBearer(auto_error=False, description="the token in [api] token_file")


def authorized(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
) -> str:
    """The token and the rate limit are checked before routing (app.Gate), so a refused
    call never has its body read; this documents the scheme and names the actor."""
    client = request.client.host if request.client else "unknown"
    return f"api:{client}"


router = APIRouter(prefix="/api/v1", tags=["operate"])
Actor = Annotated[str, Depends(authorized)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FreezeBody(Strict):
    reason: str = Field(default="", max_length=500)


class EndpointBody(Strict):
    endpoint: str = Field(min_length=1, max_length=255)

    @field_validator("endpoint")
    @classmethod
    def dns_name(cls, v: str) -> str:
        return str(check_dns_name(v))


class PinBody(EndpointBody):
    generation: int = Field(ge=1, le=2**62)


class RollbackBody(EndpointBody):
    generation: int | None = Field(default=None, ge=1, le=2**62)


def _ctx(request: Request) -> tuple[RegionView, Config]:
    return request.app.state.view, request.app.state.config


def _done(request: Request, **result: Any) -> dict[str, Any]:
    request.app.state.view.refresh()
    return {"ok": True, **result}


def _known(config: Config, name: str) -> EndpointName:
    if name not in config.region.endpoints:
        raise Refused(404, f"unknown endpoint {name} (known: {', '.join(config.region.endpoints)})")
    return EndpointName(name)


@router.post("/freeze", responses=ERRORS)
def freeze(request: Request, actor: Actor, body: FreezeBody | None = None) -> dict[str, Any]:
    """Stop every write to DNS until unfreeze; the planner keeps planning."""
    v, _ = _ctx(request)
    operations.freeze(v.store, actor=actor, now=time.time(), reason=body.reason if body else "")
    return _done(request, frozen=True)


@router.post("/unfreeze", responses=ERRORS)
def unfreeze(request: Request, actor: Actor) -> dict[str, Any]:
    v, _ = _ctx(request)
    operations.unfreeze(v.store, actor=actor, now=time.time())
    return _done(request, frozen=False)


@router.post("/pin", responses=ERRORS)
def pin(request: Request, actor: Actor, body: PinBody) -> dict[str, Any]:
    """Serve an endpoint with a stored plan's content (published as a new generation)."""
    v, config = _ctx(request)
    name = _known(config, body.endpoint)
    plan = operations.pin(
        v.store, config, name, Generation(body.generation), actor=actor, now=time.time()
    )
    return _done(request, endpoint=name, source=body.generation, published=plan.generation)


@router.post("/unpin", responses=ERRORS)
def unpin(request: Request, actor: Actor, body: EndpointBody) -> dict[str, Any]:
    v, config = _ctx(request)
    name = _known(config, body.endpoint)
    operations.unpin(v.store, name, actor=actor, now=time.time())
    return _done(request, endpoint=name)


@router.post("/rollback", responses=ERRORS)
def rollback(request: Request, actor: Actor, body: RollbackBody) -> dict[str, Any]:
    """An earlier plan's content for one endpoint (default: the last different one)."""
    v, config = _ctx(request)
    name = _known(config, body.endpoint)
    chosen = Generation(body.generation) if body.generation is not None else None
    source, plan = operations.rollback(v.store, config, name, chosen, actor=actor, now=time.time())
    return _done(request, endpoint=name, source=source, published=plan.generation)


@router.post("/repair", responses=ERRORS)
def repair(request: Request, actor: Actor) -> dict[str, Any]:
    """One reconciler pass: find inconsistent state and repair it."""
    v, config = _ctx(request)
    report = operations.repair_once(
        v.store, actor=actor, now=time.time(), max_lag=config.reconciler.max_lag
    )
    return _done(
        request,
        problems=[str(p) for p in report.problems],
        republished=report.republished,
        outcomes={k: str(o) for k, o in report.outcomes.items()},
    )


NAME = Field(min_length=1, max_length=200)
REASON = Field(min_length=1, max_length=500, description="why; kept in the audit log")


class TargetBody(Strict):
    """Exactly one of `az` or `lb`."""

    az: str | None = Field(default=None, min_length=1, max_length=200)
    lb: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def one_target(self) -> TargetBody:
        if (self.az is None) == (self.lb is None):
            raise ValueError("name exactly one of az or lb")
        return self

    @property
    def target(self) -> tuple[str, str]:
        return ("az", self.az) if self.az is not None else ("lb", self.lb or "")


class DrainBody(TargetBody):
    reason: str = REASON


class LbBody(Strict):
    lb: str = NAME


class DisableBody(LbBody):
    reason: str = REASON


def _hold_json(held: Any) -> dict[str, Any]:
    return {"scope": held.scope, "name": held.name, "kind": held.kind, "reason": held.reason}


@router.post("/drain", responses=ERRORS)
def drain(request: Request, actor: Actor, body: DrainBody) -> dict[str, Any]:
    """Move traffic off an AZ or LB at the next plan, past the removal budget, on purpose."""
    v, config = _ctx(request)
    scope, name = body.target
    held = holds.drain(
        v.store, config, scope, name, reason=body.reason, actor=actor, now=time.time()
    )
    return _done(request, hold=_hold_json(held))


@router.post("/undrain", responses=ERRORS)
def undrain(request: Request, actor: Actor, body: TargetBody) -> dict[str, Any]:
    """End a drain; the LBs return once healthy for the hold-down."""
    v, config = _ctx(request)
    scope, name = body.target
    changed = holds.undrain(v.store, config, scope, name, actor=actor, now=time.time())
    return _done(request, scope=scope, name=name, changed=changed)


@router.post("/lb/disable", responses=ERRORS)
def lb_disable(request: Request, actor: Actor, body: DisableBody) -> dict[str, Any]:
    """Treat an LB as failed until enabled, whatever its probes say (under the budget)."""
    v, config = _ctx(request)
    held = holds.disable_lb(
        v.store, config, body.lb, reason=body.reason, actor=actor, now=time.time()
    )
    return _done(request, hold=_hold_json(held))


@router.post("/lb/enable", responses=ERRORS)
def lb_enable(request: Request, actor: Actor, body: LbBody) -> dict[str, Any]:
    """Let an LB's probes decide again."""
    v, config = _ctx(request)
    changed = holds.enable_lb(v.store, config, body.lb, actor=actor, now=time.time())
    return _done(request, lb=body.lb, changed=changed)
