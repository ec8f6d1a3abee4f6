"""The dashboard and the public status page in Debian's headless Chromium over a real
planner's health status with a verdict per LB address (tests/api/addressed.py): a down
address shows as its own row with its reason, first; an all-healthy region shows no
problem row; the public status page never shows an address, while the dashboard, from
the same state, does (the check can fail). Screenshots go to the test's tmp dir."""

from __future__ import annotations

import json
import urllib.request

import pytest
from bench.harness import chromium, served

from tests.api.addressed import DOWN_ADDRESS, DOWN_LB, DOWN_REASON, addressed_planner
from zonewarden.api.app import ApiOptions, create_app
from zonewarden.core.incidents import PUBLIC
from zonewarden.ports import Heartbeat

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def browser():
    with chromium() as ctx:
        yield ctx


def dashboard(browser, config, store, tmp_path, shot):
    asgi, _ = create_app(config, store, ApiOptions(refresh=0.2))
    with served(asgi) as port:
        page = browser.new_page()
        try:
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#lbs tbody tr[data-lb]", timeout=20_000)
            page.screenshot(path=str(tmp_path / shot), full_page=True)
            yield page, port
        finally:
            page.close()


def test_a_down_address_is_a_row_of_its_own_with_its_reason(browser, static_region, tmp_path):
    config, store = static_region
    planner, _ = addressed_planner(config, store, {DOWN_ADDRESS: DOWN_REASON})
    planner.once(10.0)
    for page, _ in dashboard(browser, config, store, tmp_path, "addresses-down.png"):
        row = page.locator(f'#lbs tr.addr[data-address="{DOWN_ADDRESS}"]')
        assert row.get_attribute("data-lb") == DOWN_LB
        text = row.inner_text()
        assert "down" in text and DOWN_REASON in text and "out of the plan" in text
        assert "1 of 1 fresh say down" in text  # votes, in words as well as colour
        first = page.locator("#lbs tbody tr").first
        assert (
            first.get_attribute("data-lb") == DOWN_LB and "1 of 2 addresses" in first.inner_text()
        )
        assert page.locator("#lbs tr.addr").count() == 1  # healthy addresses folded away
        page.locator(f'#lbs button.addr-toggle[data-lb="{DOWN_LB}"]').click()
        page.wait_for_selector('#lbs tr.addr[data-address="127.0.1.1"][data-state="healthy"]')
        headers = page.locator("#lbs thead th").all_inner_texts()
        assert headers[0] == "lb / address" and "why" in headers
        assert "1 address not serving" in page.locator("#lb-page").inner_text()


def test_a_mended_address_waits_out_its_hold_down_and_new_keys_show(
    browser, static_region, tmp_path
):
    config, store = static_region
    planner, health = addressed_planner(config, store, {DOWN_ADDRESS: DOWN_REASON})
    planner.once(10.0)
    health.down.clear()
    planner.once(12.0)  # healthy again: its 30 s hold-down starts
    status = store.health_status()  # what the planner may add to a row shows as it comes
    row = status["lbs"][DOWN_LB]["addresses"][DOWN_ADDRESS]
    assert row["waiting_s"] == 30.0, row  # the planner's own
    row.update(exits=2, damped=True)
    store.set_health_status(status)
    for page, _ in dashboard(browser, config, store, tmp_path, "addresses-waiting.png"):
        row = page.locator(f'#lbs tr.addr[data-address="{DOWN_ADDRESS}"]')
        assert row.get_attribute("data-state") == "waiting"
        text = row.inner_text()
        assert "waiting out hold-down" in text and "hold-down: healthy for 0 s of 30 s" in text
        assert "30 s of hold-down left" in text and "left the plan 2 times lately" in text
        assert "damped: true" in text  # a key the dashboard does not know, shown as it is


def test_control_an_all_healthy_region_shows_no_problem_row(browser, static_region, tmp_path):
    config, store = static_region
    planner, _ = addressed_planner(config, store)
    planner.once(10.0)
    for page, _ in dashboard(browser, config, store, tmp_path, "addresses-healthy.png"):
        assert page.locator("#lbs tr.addr").count() == 0
        assert page.locator("#lbs button.addr-toggle").count() == len(config.region.lbs)
        assert "not serving" not in page.locator("#lbs").inner_text()


def test_the_public_status_page_shows_no_address(browser, static_region, tmp_path):
    config, store = static_region
    every = {a for lb in config.region.lbs.values() for a in (*lb.ipv4, *lb.ipv6)}
    planner, _ = addressed_planner(config, store, dict.fromkeys(every, DOWN_REASON))
    planner.once(10.0)  # every address down at once: fail-static, a public incident
    beat = next(b for b in store.heartbeats() if b.actor == "planner")
    assert beat.phase == "fail-static"
    detail = f"{beat.detail}; {DOWN_LB} {DOWN_ADDRESS}: {DOWN_REASON}"  # text naming one
    store.beat(Heartbeat("planner", beat.at, beat.generation, beat.phase, detail))
    for page, port in dashboard(browser, config, store, tmp_path, "dashboard.png"):
        page.wait_for_selector('#alarms li[data-kind="fail-static"]', timeout=20_000)
        assert DOWN_ADDRESS in page.locator("#alarms").inner_text()  # the control: shown here
        assert page.locator("#lbs tr.addr").count() >= 2 * len(config.region.lbs)
        page.goto(f"http://127.0.0.1:{port}/status")
        page.wait_for_selector("#incidents .incident", timeout=20_000)
        page.screenshot(path=str(tmp_path / "status.png"), full_page=True)
        shown = page.content() + page.locator("body").inner_text()
        raw = [get(port, p) for p in ("/status.json", "/feed.atom")]
        for text in (shown, *raw):
            assert not [a for a in every if a in text], text[:2000]
        assert json.loads(raw[0])["incidents"][0]["name"] == PUBLIC["fail-static"][2]


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return str(r.read().decode())
