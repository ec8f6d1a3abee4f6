"""Probes against real loopback LBs: every bad answer is a failure with its reason."""

from __future__ import annotations

import asyncio
import datetime
import ssl

import pytest

from zonewarden.core.checks import CheckTarget, ProbeSettings
from zonewarden.core.model import LbId
from zonewarden.health.lbserver import LbServer
from zonewarden.health.probe import probe, read_capacity
from zonewarden.health.prober import Prober

pytestmark = pytest.mark.servers

FAST = ProbeSettings(interval=0.1, timeout=0.5, jitter=0.1, rise=2, fall=2, max_bytes=4096)


def http(lb: LbServer, path: str = "/health", scheme: str = "http") -> CheckTarget:
    return CheckTarget(scheme, "127.0.0.1", lb.port, path)


def test_each_bad_answer_fails_with_its_reason():
    async def run() -> list[str]:
        lb = LbServer()
        await lb.start()
        seen = []
        for mode, params in [
            ("ok", {}),
            ("status", {"status": 503}),
            ("redirect", {"location": "http://127.0.0.1:9/x"}),
            ("garbage", {}),
            ("huge", {"size": 100_000}),
            ("stall", {}),
            ("slow", {"delay": 2.0}),
        ]:
            lb.set(mode, **params)
            seen.append((await probe(http(lb), FAST)).reason)
        tcp = await probe(CheckTarget("tcp", "127.0.0.1", lb.port), FAST)
        port = lb.port
        await lb.kill()
        seen.append(tcp.reason)
        seen.append((await probe(CheckTarget("tcp", "127.0.0.1", port), FAST)).reason)
        seen.append((await probe(http(lb), FAST)).reason)
        return seen

    assert asyncio.run(run()) == [
        "http 200",
        "http 503, expected 200..299",
        "redirect 302 to http://127.0.0.1:9/x, not followed",
        "not an HTTP response (b'\\x00\\xffnot http at all\\r\\n\\r')",
        "response over 4096 bytes (cap), not read",
        "http timed out after 0.5 s",
        "http timed out after 0.5 s",
        "tcp connect ok",
        "tcp connect refused",
        "http connect refused",
    ]


def test_body_match_and_status_range():
    async def run() -> tuple[str, str]:
        lb = LbServer()
        await lb.start()
        want_ok = ProbeSettings(body_match="ok")
        want_other = ProbeSettings(body_match="ready", expect_status=(200, 200))
        a = (await probe(http(lb), want_ok)).reason
        b = (await probe(http(lb), want_other)).reason
        await lb.kill()
        return a, b

    assert asyncio.run(run()) == ("http 200", "http 200 but body lacks 'ready'")


def test_capacity_nonsense_is_refused_and_the_last_good_value_kept():
    async def run() -> tuple[list[str], dict[LbId, int]]:
        lb = LbServer(capacity=150)
        await lb.start()
        url = http(lb, "/capacity")
        reasons = []
        for value in ("-5", "NaN", "1e30", '"many"', "150"):
            lb.set("ok", capacity=value)
            reasons.append((await read_capacity(url, FAST))[1])
        lb.set("garbage")
        reasons.append((await read_capacity(url, FAST))[1])
        prober = Prober("az1", {LbId("a"): http(lb)}, FAST, capacity_urls={LbId("a"): url})
        lb.set("ok", capacity="150")
        await prober.check_once(LbId("a"))
        lb.set("ok", capacity="-1")
        await prober.check_once(LbId("a"))
        await lb.kill()
        return reasons, prober.capacity

    reasons, kept = asyncio.run(run())
    assert reasons[:5] == [
        "capacity -5 is negative",
        "capacity nan is not a finite number",
        "capacity 1e+30 is over the plausible limit 1e+07",
        "capacity 'many' is not a number",
        "",
    ]
    assert reasons[5].startswith("capacity read failed: not an HTTP response")
    assert kept == {LbId("a"): 150}


def test_https_probe(tmp_path):
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    async def run() -> tuple[str, str]:
        lb = LbServer(tls=server_tls)
        await lb.start()
        ok = (await probe(http(lb, scheme="https"), FAST)).reason
        strict = ProbeSettings(tls_verify=True, timeout=0.5)
        refused = (await probe(http(lb, scheme="https"), strict)).reason
        await lb.kill()
        return ok, refused

    ok, refused = asyncio.run(run())
    assert ok == "http 200"
    assert refused.startswith("tls: ")


def test_rise_fall_and_the_concurrency_cap_over_many_lbs():
    async def run() -> Prober:
        lbs = [LbServer() for _ in range(40)]
        for lb in lbs:
            await lb.start()
        checks = {LbId(f"lb{i}"): http(lb) for i, lb in enumerate(lbs)}
        settings = ProbeSettings(interval=0.05, timeout=0.5, jitter=0.2, max_concurrent=5)
        prober = Prober("planner", checks, settings)
        stop = asyncio.Event()
        task = asyncio.create_task(prober.run(stop))
        await asyncio.sleep(0.4)
        await lbs[0].kill()
        lbs[1].set("stall")
        await asyncio.sleep(2.0)
        stop.set()
        await task
        for lb in lbs:
            await lb.kill()
        return prober

    prober = asyncio.run(run())
    assert prober.in_flight_peak <= 5
    assert prober.probes > 100
    report = prober.report(0.0)
    assert not report.readings[LbId("lb0")].healthy
    assert "connect refused (fall 2/2)" in prober.states[LbId("lb0")].reason or (
        "connect refused" in report.readings[LbId("lb0")].reason
    )
    assert not report.readings[LbId("lb1")].healthy
    assert all(report.readings[LbId(f"lb{i}")].healthy for i in range(2, 40))


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lb.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "lb.pem", tmp_path / "lb.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)
