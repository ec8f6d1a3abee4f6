"""A region on a real SQLite store with a few plans, and the API app over it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.cli.test_cli import FlakyHealth
from zonewarden import config as cfg
from zonewarden.api.app import ApiOptions, create_app
from zonewarden.runtime.openers import open_store
from zonewarden.runtime.planner import Planner

TOKEN = "s3cret-token-for-tests"
STATIC_PLANNER = (
    '[planner]\ninterval = 1.0\nhealth = "static"\nhold_down = 30\nremoval_budget = false\n'
)


@pytest.fixture
def region(tmp_path):
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml())
    config = cfg.load(path)
    store = open_store(config, create=True)
    planner = Planner(config, store, FlakyHealth(config.region))
    for i in range(4):
        planner.once(float(i))
    store.apply_if_newer(store.newest(), list(config.region.endpoints), actor="test", now=5.0)
    yield config, store, planner
    store.close()


@pytest.fixture
def static_region(tmp_path):
    """The demo region on SQLite with static health, a 30 s hold-down and no removal
    budget, and no plan yet: for a planner a test drives itself (tests/api/addressed.py)."""
    path = tmp_path / "region.toml"
    text = cfg.demo_toml()
    text = text[: text.index("[planner]")] + STATIC_PLANNER + text[text.index("[enactors]") :]
    path.write_text(text)
    config = cfg.load(path)
    store = open_store(config, create=True)
    yield config, store
    store.close()


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "api.token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def api(region, token_file):
    config, store, _ = region
    asgi, app = create_app(config, store, ApiOptions(token_file=token_file, rate_burst=50))
    with TestClient(asgi) as client:
        client.app_state = app.state  # type: ignore[attr-defined]
        yield client


AUTH = {"Authorization": f"Bearer {TOKEN}"}
