"""The probe against misbehaving servers on loopback, and its webhook against a real
HTTP receiver: a server that times out, answers garbage, answers another question or
answers empty costs its own findings, and every alert is one the probe reports."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator

import dns.message
import dns.rcode
import dns.rrset
import pytest

from zonewarden.backends.answer_probe import agreement, judge, post_webhook, probe_round

NAME = "kv.us-east-1.example."
ALLOWED = {(NAME, "A"): frozenset({"127.0.1.1", "127.0.1.2"})}


def test_judge_classifies_each_answer():
    ok = ALLOWED[(NAME, "A")]
    assert judge(dns.rcode.NOERROR, ["127.0.1.1"], ok)[0] == "ok"  # a subset is fine
    assert judge(dns.rcode.NOERROR, [], ok)[0] == "empty"
    assert judge(dns.rcode.NXDOMAIN, [], ok)[0] == "nxdomain"
    assert judge(dns.rcode.SERVFAIL, [], ok)[0] == "servfail"
    assert judge(dns.rcode.NOERROR, ["192.0.2.9"], ok)[0] == "differs"


def serve_udp(reply: Callable[[bytes], bytes | None]) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            out = reply(data)
            if out is not None:
                sock.sendto(out, peer)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    t.join()
    sock.close()


def answer(addresses: list[str], *, other_name: bool = False) -> Callable[[bytes], bytes]:
    def reply(data: bytes) -> bytes:
        q = dns.message.from_wire(data)
        r = dns.message.make_response(q)
        name = "other.example." if other_name else q.question[0].name
        if addresses:
            r.answer.append(dns.rrset.from_text(name, 5, "IN", "A", *addresses))
        if other_name:
            r.question = [dns.rrset.RRset(dns.name.from_text(name), 1, 1)]
        return r.to_wire()

    return reply


@pytest.fixture
def servers() -> Iterator[dict[str, str]]:
    gens = {
        "good": serve_udp(answer(["127.0.1.1"])),
        "empty": serve_udp(answer([])),
        "garbage": serve_udp(lambda data: data[:2] + b"\xff" * 7),
        "silent": serve_udp(lambda data: None),
        "other": serve_udp(answer(["127.0.1.1"], other_name=True)),
        "stranger": serve_udp(answer(["192.0.2.66"])),
    }
    addresses = {k: next(g) for k, g in gens.items()}
    yield addresses
    for g in gens.values():
        next(g, None)


@pytest.mark.servers
def test_every_misbehaving_server_costs_only_its_own_finding(servers):
    findings = asyncio.run(probe_round(list(servers.values()), ALLOWED, timeout=0.3))
    by = {next(k for k, v in servers.items() if v == f.server): f.result for f in findings}
    assert by == {
        "good": "ok",
        "empty": "empty",
        "garbage": "garbage",
        "silent": "timeout",
        "other": "garbage",
        "stranger": "differs",
    }
    assert agreement(findings) == {NAME: False}
    same = asyncio.run(probe_round([servers["good"], servers["good"]], ALLOWED, timeout=0.3))
    assert agreement(same) == {NAME: True}


@pytest.mark.servers
def test_webhook_reaches_a_loopback_receiver_and_a_dead_one_is_reported():
    got: list[dict[str, object]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        assert post_webhook(url, {"result": "empty", "endpoint": NAME}) is None
        assert got == [{"result": "empty", "endpoint": NAME}]
    finally:
        server.shutdown()
        server.server_close()
    problem = post_webhook(url, {"result": "empty"}, timeout=0.5)
    assert problem and "failed" in problem
