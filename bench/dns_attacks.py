"""Legitimate answers kept under attack: ZoneWarden's embedded server vs NSD, same zone.

Each server runs with its defaults (ZoneWarden `serve-dns` with response rate limiting
on; NSD 4.6 with its default RRL, `rrl-ratelimit: 200`), one after the other, on a
synthetic zone, and meets, one at a time and each bounded in time:

- slow writers: 300 TCP connections from 127.0.0.2-9 that each send one byte every 4 s,
  while a probe from 127.0.0.1 asks 70 queries over fresh TCP connections;
- idle connections: 500 TCP connections that send nothing; 24 probe queries over TCP;
- spoofed batch: 5,001 datagrams forged (raw socket, root) from 127.0.0.1 port 0 and
  from 127.255.255.255, interleaved with 5,000 real queries from one socket;
- flood: one source at 2,000 queries/s for 5 s for one name, while a client on another
  /24 (127.0.1.1) asks 10 queries/s; reported: the flood's whole and truncated answers,
  octets out per octet in, and the share of the other client's queries answered;
- pipelining: 20,000 queries pipelined on one TCP connection, read concurrently.

    python bench/dns_attacks.py [--endpoints 2000] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dns.peer_servers import free_port, peer_process, wait_for_answer  # noqa: E402
from tests.dns.test_udp_abuse import raw_udp  # noqa: E402

from zonewarden.backends.embedded.synthetic import load, synthetic_contents  # noqa: E402
from zonewarden.stores.sqlite import SqliteStore  # noqa: E402

ZONE = "example."
ZONEWARDEN = str(Path(sys.executable).parent / "zonewarden")
NAMES: list[str] = []  # endpoints with A records (an NXDOMAIN mix would meet RRL's one
# NXDOMAIN bucket per source prefix and measure that instead of the attack)


def query(i: int, name: str = "") -> bytes:
    q = dns.message.make_query(name or NAMES[i % len(NAMES)], "A")
    q.id = i % 65536
    return q.to_wire()


def tcp_probe(port: int, n: int, pause: float) -> float:
    ok = 0
    for i in range(n):
        wire = query(i)
        with (
            contextlib.suppress(OSError, struct.error),
            socket.create_connection(("127.0.0.1", port), timeout=2) as s,
        ):
            s.sendall(struct.pack("!H", len(wire)) + wire)
            length = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
            ok += len(s.recv(length, socket.MSG_WAITALL)) == length
        time.sleep(pause)
    return ok / n


def hold(port: int, count: int, trickle: bool, stop: threading.Event) -> list[socket.socket]:
    conns = []
    for i in range(count):
        s = socket.socket()
        with contextlib.suppress(OSError):
            s.bind((f"127.0.0.{2 + i % 8}", 0))
            s.settimeout(1)
            s.connect(("127.0.0.1", port))
            conns.append(s)
            continue
        s.close()
    if trickle:
        wire = query(1)
        framed = struct.pack("!H", len(wire)) + wire

        def run() -> None:
            i = 0
            while not stop.wait(0 if i == 0 else 4.0):
                for s in conns:
                    with contextlib.suppress(OSError):
                        s.send(framed[i % len(framed) : i % len(framed) + 1])
                i += 1

        threading.Thread(target=run, daemon=True).start()
    return conns


def slow_writers(port: int) -> dict[str, float]:
    stop = threading.Event()
    conns = hold(port, 300, True, stop)
    time.sleep(1)
    share = tcp_probe(port, 70, 0.2)
    stop.set()
    for s in conns:
        s.close()
    return {"slow_writers_probe_answered": share}


def idle(port: int) -> dict[str, float]:
    stop = threading.Event()
    conns = hold(port, 500, False, stop)
    time.sleep(1)
    share = tcp_probe(port, 24, 0.2)
    for s in conns:
        s.close()
    return {"idle_probe_answered": share}


def spoofed(port: int) -> dict[str, float]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        answered = 0
        for i in range(5001):
            src, sport = ("127.0.0.1", 0) if i % 2 else ("127.255.255.255", 4000)
            raw_udp(src, sport, port, query(i))
            if i < 5000:
                s.sendto(query(i), ("127.0.0.1", port))
            with contextlib.suppress(BlockingIOError):
                while True:
                    s.recv(4096)
                    answered += 1
        s.settimeout(1)
        with contextlib.suppress(TimeoutError):
            while True:
                s.recv(4096)
                answered += 1
    return {"spoofed_batch_legit_answered": answered / 5000}


def flood(port: int) -> dict[str, float]:
    stop = threading.Event()
    other = {"asked": 0, "answered": 0}

    def other_client() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.bind(("127.0.1.1", 0))
            c.settimeout(0.1)
            while not stop.is_set():
                other["asked"] += 1
                c.sendto(query(1, f"ep1.{ZONE}"), ("127.0.0.1", port))
                with contextlib.suppress(TimeoutError):
                    other["answered"] += bool(c.recv(4096))
                time.sleep(0.1)

    t = threading.Thread(target=other_client)
    t.start()
    whole = truncated = out_bytes = in_bytes = 0
    wire = query(1, f"ep1.{ZONE}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        start = time.monotonic()
        for i in range(10_000):
            s.sendto(wire, ("127.0.0.1", port))
            in_bytes += len(wire)
            while time.monotonic() < start + i / 2000:
                with contextlib.suppress(BlockingIOError):
                    while True:
                        reply = s.recv(4096)
                        out_bytes += len(reply)
                        truncated += bool(reply[2] & 2)
                        whole += not reply[2] & 2
                time.sleep(0.0005)
        s.settimeout(0.5)
        with contextlib.suppress(TimeoutError):
            while True:
                reply = s.recv(4096)
                out_bytes += len(reply)
                truncated += bool(reply[2] & 2)
                whole += not reply[2] & 2
    stop.set()
    t.join()
    return {
        "flood_whole": whole,
        "flood_truncated": truncated,
        "flood_amplification": out_bytes / in_bytes,
        "flood_other_client_answered": other["answered"] / max(1, other["asked"]),
    }


def pipelined(port: int) -> dict[str, float]:
    count = 20_000
    wires = [query(i) for i in range(count)]
    payload = b"".join(struct.pack("!H", len(w)) + w for w in wires)
    got = 0
    with (
        contextlib.suppress(OSError, struct.error),
        socket.create_connection(("127.0.0.1", port), timeout=5) as s,
    ):
        threading.Thread(target=s.sendall, args=(payload,), daemon=True).start()
        stream = s.makefile("rb")
        for _ in range(count):
            head = stream.read(2)
            if len(head) < 2:
                break
            stream.read(struct.unpack("!H", head)[0])
            got += 1
    return {"pipelined_answered": got / count}


@contextlib.contextmanager
def zonewarden(store: Path) -> Iterator[int]:
    port = free_port()
    argv = [ZONEWARDEN, "serve-dns", "--store", str(store), "--zone", ZONE]
    proc = subprocess.Popen([*argv, "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    try:
        wait_for_answer(port, ZONE, 60, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoints", type=int, default=2000)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="zw-attacks-") as tmp:
        workdir = Path(tmp)
        store = SqliteStore(workdir / "region.db")
        load(store, synthetic_contents(args.endpoints, ZONE))
        version, entries = store.changed_since(0)
        store.close()
        NAMES.extend(
            sorted(n for n, e in entries.items() if any(r.rtype == "A" for r in e.content.records))
        )
        from zonewarden.backends.embedded.settings import ZoneSettings
        from zonewarden.backends.embedded.zonefile import export_zone

        zonefile = workdir / "example.zone"
        zonefile.write_text(export_zone(ZoneSettings(ZONE), version, entries).text)
        for kind in ("zonewarden", "nsd"):
            row: dict[str, float] = {}
            for attack in (slow_writers, idle, spoofed, flood, pipelined):
                if kind == "zonewarden":
                    server = zonewarden(workdir / "region.db")
                else:
                    server = peer_process("nsd", ZONE, zonefile, workdir / "nsd", rrl=True)
                with server as started:
                    port = started if isinstance(started, int) else started[0]
                    row |= attack(port)
                print(kind, attack.__name__, json.dumps(row), flush=True)
            results[kind] = row
    print("\n| attack | measure | ZoneWarden | NSD 4.6 (defaults, RRL on) |")
    print("| --- | --- | --- | --- |")
    for key in results["zonewarden"]:
        zw, nsd = results["zonewarden"][key], results["nsd"].get(key, float("nan"))
        fmt = "{:.0%}" if key.endswith("answered") else "{:,.2f}"
        print(f"| {key.split('_')[0]} | {key} | {fmt.format(zw)} | {fmt.format(nsd)} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
