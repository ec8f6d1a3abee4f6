"""The [backend], [planner] and [enactors] sections, from checked keys to settings.

Rules kept here: a backend kind's required keys are present; enactor ids are unique.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zonewarden.config.schema import BACKEND_REQUIRED
from zonewarden.config.settings import (
    HISTORY_DEFAULTS,
    ApiSettings,
    EnactorSettings,
    PlannerSettings,
)
from zonewarden.config.source import Source
from zonewarden.core.enactor import EnactorConfig
from zonewarden.core.gates import Limits


def parse_backend(src: Source, b: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """Check the keys a backend kind needs; read the TSIG secret file if one is named."""
    kind = b.get("kind", "embedded")
    out = dict(b)
    for key in BACKEND_REQUIRED.get(kind, ()):
        if key not in b:
            raise src.error(f"[backend] kind = {kind!r} needs {key!r}", "backend", None, "kind")
    if "tsig_secret_file" in b:
        path = Path(b["tsig_secret_file"])
        path = path if path.is_absolute() else base / path
        try:
            out["tsig_secret"] = path.read_text().strip()
        except OSError as exc:
            raise src.error(
                f"[backend] tsig_secret_file {path}: {exc.strerror}",
                "backend",
                None,
                "tsig_secret_file",
            ) from None
    return out


def parse_planner(src: Source, s: Mapping[str, Any]) -> PlannerSettings:
    default = Limits()
    limits = Limits(
        capacity_floor=s.get("capacity_floor", default.capacity_floor),
        max_removal=s.get("max_removal", default.max_removal),
    )
    return PlannerSettings(
        interval=s.get("interval", 1.0),
        limits=limits,
        max_unhealthy_fraction=s.get("max_unhealthy_fraction", 0.5),
        health=s.get("health", "static"),
        seed=s.get("seed", 1),
    )


def parse_enactors(src: Source, s: Mapping[str, Any]) -> EnactorSettings:
    ids = s.get("ids", ("az1", "az2", "az3"))
    if len(set(ids)) != len(ids):
        raise src.error(f"[enactors] ids has duplicates: {list(ids)}", "enactors", None, "ids")
    knobs = {k: v for k, v in s.items() if k not in ("ids", "protocol")}
    knobs = {**HISTORY_DEFAULTS, **knobs}
    return EnactorSettings(
        ids=ids, protocol=s.get("protocol", "safe"), config=EnactorConfig(**knobs)
    )


def parse_api(a: Mapping[str, Any], base: Path) -> ApiSettings:
    """[api]: paths relative to the config file; the token file is read when used, so
    replacing it rotates the token without a restart."""
    token = a.get("token_file")
    values = {k: v for k, v in a.items() if k != "token_file"}
    return ApiSettings(**values, token_file=(base / token) if token else None)
