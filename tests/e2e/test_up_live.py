"""`zonewarden up` as a user runs it: DNS with dnspython, the dashboard and the status
page in Debian's headless Chromium, /metrics, the probe, and the 2025 race replayed live
in both protocols (safe must never answer empty; legacy must, within 60 s). Screenshots
go to the test's tmp dir (ZONEWARDEN_SCREENSHOTS=DIR keeps a copy there)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rcode
import pytest
from bench.harness import CHROMIUM, chromium

import dns.query
from tests.ports import free_port
from zonewarden.runtime.handover import leftover

pytestmark = pytest.mark.servers
NAMES = (
    "kv.us-east-1.example.",
    "kv-fips.us-east-1.example.",
    "kv.dualstack.us-east-1.example.",
    "streams.kv.us-east-1.example.",
)


def zw(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zonewarden", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Region:
    def __init__(self, cwd: Path, *args: str) -> None:
        self.cwd, self.dns, self.api = cwd, free_port(), free_port()
        self.dns_metrics = free_port()
        self.log = (cwd / f"up-{time.monotonic_ns()}.out").open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zonewarden",
                "up",
                "--quiet",
                "--duration",
                "240",
                "--dns-listen",
                f"127.0.0.1:{self.dns}",
                "--dns-metrics-listen",
                f"127.0.0.1:{self.dns_metrics}",
                "--api-listen",
                f"127.0.0.1:{self.api}",
                *args,
            ],
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.api}"

    def ask(self, name: str, timeout: float = 0.5) -> tuple[int, int] | None:
        """(rcode, number of A records) or None on timeout."""
        q = dns.message.make_query(name, "A")
        try:
            r = dns.query.udp(q, "127.0.0.1", port=self.dns, timeout=timeout)
        except (dns.exception.Timeout, OSError):
            return None
        return r.rcode(), sum(len(rr) for rr in r.answer if rr.rdtype == 1)

    def wait_served_as_stored(self, db: Path, within: float = 20) -> None:
        """Until the DNS server serves a snapshot at least as new as the store's zone."""
        from zonewarden.stores.sqlite import SqliteStore

        store = SqliteStore(db)
        try:
            version, _ = store.changed_since(0)
        finally:
            store.close()
        deadline = time.monotonic() + within
        while self.metric("zonewarden_dns_snapshot_version", dns_server=True) < version:
            assert time.monotonic() < deadline, f"the DNS server never served version {version}"
            time.sleep(0.1)

    def wait_dns(self, within: float = 30) -> float:
        start = time.monotonic()
        while time.monotonic() - start < within:
            got = self.ask(NAMES[0], 0.2)
            if got and got[0] == dns.rcode.NOERROR and got[1]:
                return time.monotonic() - start
            time.sleep(0.1)
        raise AssertionError(f"no DNS answer within {within}s: {self.output()}")

    def get(self, path: str) -> str:
        import urllib.request

        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            return r.read().decode()

    def wait_api(self, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                self.get("/api/v1/status")
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("API never answered: " + self.output())

    def metric(self, name: str, dns_server: bool = False) -> float:
        """One sample from the API's /metrics, or the DNS server's with `dns_server`."""
        import urllib.request

        if dns_server:
            url = f"http://127.0.0.1:{self.dns_metrics}/metrics"
            with urllib.request.urlopen(url, timeout=5) as r:
                text = r.read().decode()
        else:
            text = self.get("/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not in /metrics")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text()[-3000:]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def cwd(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    stale = leftover(tmp_path / ".zonewarden" / "dns.pid")  # never leave a DNS server behind
    if stale is not None:
        stale.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is missing: run scripts/install-test-deps.sh (scripts/apt/browser.txt)"
        )
    with chromium() as ctx:  # Debian's, headless (bench/harness.py)
        yield ctx


def shoot(page: object, tmp: Path, name: str) -> Path:
    out = tmp / name
    page.screenshot(path=str(out), full_page=True)  # type: ignore[attr-defined]
    keep = os.environ.get("ZONEWARDEN_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(keep) / name)
    return out


def test_safe_race_fences_stale_writes_and_never_answers_empty(cwd, browser):
    region = Region(cwd, "--scenario", "race")
    try:
        startup = region.wait_dns()
        region.wait_api()
        print(f"up answered DNS {startup:.2f}s after start")
        empties, asked, answered, deadline = [], 0, 0, time.monotonic() + 20
        while time.monotonic() < deadline:
            for name in NAMES:
                got = region.ask(name)
                asked += 1
                answered += got is not None
                if got and got[0] == dns.rcode.NOERROR and got[1] == 0:
                    empties.append(name)
            if region.metric("zonewarden_fenced_total") >= 3 and asked > 200:
                break
        assert empties == [], f"safe answered empty for {empties}"
        fenced = json.loads(region.get("/api/v1/audit?kind=fenced&limit=50"))["items"]
        assert any(e["actor"] == "az1" for e in fenced), (
            "the paused enactor's stale writes must be fenced"
        )
        assert region.metric("zonewarden_endpoints_empty") == 0
        assert region.metric("zonewarden_dns_empty_answers_total", dns_server=True) == 0
        noerror = 'zonewarden_dns_answers_total{rcode="NOERROR"}'
        assert region.metric(noerror, dns_server=True) >= answered
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(region.url + "/")
        page.wait_for_function(
            "Number(document.querySelector('#counters tr[data-kind=fenced] td')?.textContent) > 0",
            timeout=15000,
        )
        assert "kv.us-east-1.example." in page.inner_text("#endpoints")
        assert "az1" in page.inner_text("#enactors")
        assert page.locator("#alarms li.sev-critical").count() == 0
        shoot(page, cwd, "dashboard-safe-race.png")
        page.goto(region.url + "/status")
        page.wait_for_selector("#banner[data-indicator]")
        assert page.get_attribute("#banner", "data-indicator") in ("none", "minor")
        shoot(page, cwd, "status-safe-race.png")
        page.close()
        # the probe checks answers against the store's plans: on a region this busy the DNS
        # server's snapshot can trail the store by a refresh ('differs'), so it probes a
        # still region: frozen, and served exactly as the store says (empties were
        # checked above, while the race ran)
        frozen = zw(cwd, "freeze", "--config", ".zonewarden/race-safe.toml", "--reason", "probe")
        assert frozen.returncode == 0, frozen.stdout + frozen.stderr
        region.wait_served_as_stored(cwd / ".zonewarden" / "race-safe.db")
        probe = zw(
            cwd,
            "probe",
            "--config",
            ".zonewarden/race-safe.toml",
            "--server",
            f"127.0.0.1:{region.dns}",
            "--once",
            "--json",
        )
        lines = [json.loads(x) for x in probe.stdout.splitlines()]
        assert probe.returncode == 0 and not [x for x in lines if x.get("result") == "empty"], (
            probe.stdout + probe.stderr
        )
        assert lines[-1]["summary"] and lines[-1]["checked"] >= len(NAMES)
    finally:
        code = region.stop()
    assert code == 0, region.output()


def test_legacy_race_answers_empty_within_60s_and_stays_stuck_until_repair(cwd, browser):
    region = Region(cwd, "--scenario", "race", "--protocol", "legacy")
    try:
        region.wait_dns()
        region.wait_api()
        started, empty = time.monotonic(), None
        while time.monotonic() - started < 60 and empty is None:
            for name in NAMES:
                got = region.ask(name)
                if got and got[0] == dns.rcode.NOERROR and got[1] == 0:
                    empty = name
            time.sleep(0.05)
        assert empty, "legacy must answer NOERROR with no addresses within 60 s: " + region.output()
        print(f"legacy: {empty} answered empty after {time.monotonic() - started:.1f}s")
        time.sleep(3)
        assert region.ask(empty) == (dns.rcode.NOERROR, 0), (
            "the enactors must be stuck: still empty"
        )
        assert region.metric("zonewarden_endpoints_empty") >= 1
        assert region.metric("zonewarden_dns_empty_answers_total", dns_server=True) >= 2
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(region.url + "/")
        page.wait_for_selector("#alarms li[data-kind=endpoint-empty]", timeout=15000)
        assert page.get_attribute("#alarms li:first-child", "data-kind") == "endpoint-empty"
        shoot(page, cwd, "dashboard-legacy-race.png")
        page.goto(region.url + "/status")
        page.wait_for_selector("#banner[data-indicator=critical]", timeout=15000)
        assert "no addresses" in page.inner_text("#incidents")
        shoot(page, cwd, "status-legacy-race.png")
        page.close()
        summary = json.loads(region.get("/status.json"))
        assert summary["status"]["indicator"] == "critical"
        assert any(c["status"] == "major_outage" for c in summary["components"])
        probe = zw(
            cwd,
            "probe",
            "--config",
            ".zonewarden/race-legacy.toml",
            "--server",
            f"127.0.0.1:{region.dns}",
            "--once",
            "--json",
        )
        assert probe.returncode == 1 and '"result": "empty"' in probe.stdout
        repair = zw(cwd, "repair", "--config", ".zonewarden/race-legacy.toml")
        assert repair.returncode == 0, repair.stderr
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and region.ask(empty) == (dns.rcode.NOERROR, 0):
            time.sleep(0.05)
        got = region.ask(empty)
        assert got and got[1] > 0, "repair must give the name its addresses back"
    finally:
        region.stop()


def test_dns_outlives_a_killed_up_and_the_next_up_takes_over_without_a_gap(cwd):
    first = Region(cwd, "--no-api")
    first.wait_dns()
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait()
    first.log.close()
    missed = 0
    for _ in range(20):
        got = first.ask(NAMES[0])
        missed += not (got and got[1])
        time.sleep(0.05)
    assert missed == 0, "DNS stopped answering when up was killed"
    second = Region.__new__(Region)
    second.cwd, second.dns, second.api = cwd, first.dns, free_port()
    second.log = (cwd / "second.out").open("w")
    second.url = f"http://127.0.0.1:{second.api}"
    second.proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zonewarden",
            "up",
            "--quiet",
            "--duration",
            "60",
            "--no-api",
            "--dns-listen",
            f"127.0.0.1:{first.dns}",
            "--dns-metrics-listen",  # the same server argv, so the new up adopts it
            f"127.0.0.1:{first.dns_metrics}",
        ],
        cwd=cwd,
        stdout=second.log,
        stderr=subprocess.STDOUT,
    )
    try:
        # watched until the new up has adopted the server (a loaded box takes seconds to
        # start it) and for 6 s at least
        started = time.monotonic()
        while time.monotonic() - started < 6 or "adopted" not in second.output():
            assert time.monotonic() - started < 60, "the new up never adopted the DNS server"
            got = second.ask(NAMES[0])
            missed += not (got and got[1])
            time.sleep(0.05)
        assert missed == 0, "DNS went dark while the new up took over"
    finally:
        assert second.stop() == 0
    assert second.ask(NAMES[0], 0.3) is None, "Ctrl-C must stop the adopted DNS server too"
