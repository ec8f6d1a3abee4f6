"""Config reload on SIGHUP for the planner: validate first, then adopt, or keep running.

Rules kept here: a file that fails validation changes nothing (the running config stays,
and the log and the audit log say why, with the file and line); a good file is adopted
between ticks; when its health checks changed, the prober is replaced (the policy state
and the removal budget's ledger carry over, so a reload cannot reset the budget).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from zonewarden.config import load
from zonewarden.errors import ConfigError
from zonewarden.runtime.openers import open_health
from zonewarden.runtime.planner import Planner

log = logging.getLogger("zonewarden.planner")


def reload_planner(planner: Planner, path: Path | None) -> bool:
    """Re-read `path` and adopt it if valid; True when adopted."""
    now = time.time()
    if path is None:
        log.warning("SIGHUP: this planner runs without a config file; nothing to reload")
        return False
    try:
        fresh = load(path)
    except ConfigError as exc:
        log.error("config reload refused, keeping the running config: %s", exc)
        planner.store.record("planner", "config-reload-refused", now=now, detail=str(exc))
        return False
    old = planner.config
    probes = ("probe", "quorum", "vantage", "checks", "capacity_urls", "probes")
    checks_changed = fresh.planner.health != old.planner.health or any(
        getattr(fresh.health, k) != getattr(old.health, k) for k in probes
    )
    if checks_changed:
        close = getattr(planner.health, "close", None)
        if close is not None:
            close()
        planner.health = open_health(fresh, planner.store)
        start = getattr(planner.health, "start", None)
        if start is not None:
            start()
    planner.reconfigure(fresh)
    what = "config and health checks" if checks_changed else "config"
    log.warning("SIGHUP: reloaded %s from %s", what, path)
    planner.store.record("planner", "config-reload", now=now, detail=f"{what} from {path}")
    return True
