"""Fuzz a running embedded DNS server with mutated packets, then check it still answers.

Starts `zonewarden serve-dns` on loopback over a small synthetic SQLite store (or uses
`--port` of a server already running), sends `--packets` mutated queries (bit flips,
random bytes, cut and spliced messages, lying counts, compression pointers, oversized
names) over UDP and a share over TCP, checks that every reply parses and never exceeds
the UDP payload rules, and finally that an ordinary SOA query is still answered by the
same process (no restart: serve-dns runs unsupervised here, so a crash would end it).
Response rate limiting is off (`--rrl-rate 0`) unless `--rrl-rate N` is given: the
fuzzer sends everything from one address, and every reply should be checked.

    python bench/dns_fuzz.py [--packets 100000] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import dns.message

import dns.query

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dns.peer_servers import free_port, wait_for_answer  # noqa: E402

from zonewarden.backends.embedded.synthetic import load, synthetic_contents  # noqa: E402
from zonewarden.stores.sqlite import SqliteStore  # noqa: E402

ZONE = "example."
SEEDS = [
    dns.message.make_query(n, t, use_edns=e, want_dnssec=e == 0).to_wire()
    for n in ("ep1.example.", "ep2.svc.cell2.example.", "example.", "nx.example.", "org.")
    for t in ("A", "AAAA", "SOA", "ANY", "NS", "TXT")
    for e in (-1, 0)
]


def mutate(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.05:
        return rng.randbytes(rng.randrange(0, 600))
    wire = bytearray(rng.choice(SEEDS))
    for _ in range(rng.randrange(1, 6)):
        op = rng.randrange(7)
        if op == 0 and wire:
            i = rng.randrange(len(wire))
            wire[i] ^= 1 << rng.randrange(8)
        elif op == 1 and wire:
            wire[rng.randrange(len(wire))] = rng.randrange(256)
        elif op == 2 and len(wire) > 1:
            del wire[rng.randrange(len(wire)) :]
        elif op == 3:
            i = rng.randrange(len(wire) + 1)
            wire[i:i] = rng.randbytes(rng.randrange(1, 16))
        elif op == 4 and len(wire) >= 12:
            i = rng.randrange(4, 12)
            wire[i] = rng.randrange(256)
        elif op == 5 and len(wire) > 14:
            i = rng.randrange(12, len(wire) - 1)
            wire[i : i + 2] = struct.pack("!H", 0xC000 | rng.randrange(0, len(wire) + 4))
        elif op == 6:
            wire += (b"\x3f" + b"x" * 63) * rng.randrange(1, 6)
    return bytes(wire)


def check(query: bytes, reply: bytes, udp: bool, problems: Counter) -> None:
    if reply[:2] != query[:2] or not reply[2] & 0x80:
        problems["reply id/QR mismatch"] += 1
    if udp and len(reply) > 1232:
        problems["UDP reply above 1232"] += 1
    # NOTIMP to another opcode (e.g. UPDATE) echoes the question: dnspython would read it
    # as that opcode's sections (an UPDATE zone must be SOA) and call it malformed, so the
    # header is what is checked (not against `query`: mutated packets keep their seed's ID,
    # so a reply is matched by ID to some packet of its burst, not always its own)
    if (reply[2] >> 3) & 0xF:
        if reply[3] & 0xF != 4:
            problems["reply to an unknown opcode is not NOTIMP"] += 1
        return
    try:
        dns.message.from_wire(reply, question_only=len(reply) == 12)
    except Exception as exc:
        problems[f"unparseable reply: {type(exc).__name__}"] += 1


def fuzz_udp(port: int, packets: list[bytes], stats: Counter, problems: Counter) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.02)
        for start in range(0, len(packets), 100):
            burst = packets[start : start + 100]
            by_id = {p[:2]: p for p in burst if len(p) >= 2}
            for p in burst:
                s.sendto(p, ("127.0.0.1", port))
            stats["udp sent"] += len(burst)
            with contextlib.suppress(TimeoutError):
                while True:
                    reply = s.recv(65535)
                    stats["udp replies"] += 1
                    if reply[:2] in by_id:
                        check(by_id[reply[:2]], reply, True, problems)


def fuzz_tcp(port: int, packets: list[bytes], stats: Counter, problems: Counter) -> None:
    """Pipeline packets on one connection; when the server closes it, open another."""
    conn: socket.socket | None = None
    for p in packets:
        if conn is None:
            conn = socket.create_connection(("127.0.0.1", port), timeout=0.2)
        stats["tcp sent"] += 1
        try:
            conn.sendall(struct.pack("!H", len(p)) + p)
            head = conn.recv(2, socket.MSG_WAITALL)
            if len(head) < 2:
                raise ConnectionError("closed")
            reply = conn.recv(struct.unpack("!H", head)[0], socket.MSG_WAITALL)
            stats["tcp replies"] += 1
            check(p, reply, False, problems)
        except (TimeoutError, ConnectionError):
            stats["tcp closed by server"] += 1
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


def still_answers(port: int) -> bool:
    q = dns.message.make_query(ZONE, "SOA")
    try:
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
        t = dns.query.tcp(q, "127.0.0.1", port=port, timeout=2)
    except Exception:
        return False
    return bool(r.answer) and bool(t.answer)


def start_server(workdir: Path, rrl_rate: int) -> tuple[subprocess.Popen[bytes], int]:
    store = SqliteStore(workdir / "fuzz.db")
    load(store, synthetic_contents(500, ZONE))
    store.close()
    port = free_port()
    zw = str(Path(sys.executable).parent / "zonewarden")
    argv = [zw, "serve-dns", "--store", str(workdir / "fuzz.db"), "--zone", ZONE]
    argv += ["--rrl-rate", str(rrl_rate)]
    proc = subprocess.Popen([*argv, "--listen", f"127.0.0.1:{port}"])
    wait_for_answer(port, ZONE, 60.0, proc)
    return proc, port


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--packets", type=int, default=100_000)
    p.add_argument("--tcp-share", type=float, default=0.02)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--port", type=int, help="fuzz a server already running on 127.0.0.1")
    p.add_argument("--rrl-rate", type=int, default=0, help="the server's RRL rate (0: off)")
    args = p.parse_args()
    rng = random.Random(args.seed)
    packets = [mutate(rng) for _ in range(args.packets)]
    n_tcp = int(len(packets) * args.tcp_share)
    stats: Counter = Counter()
    problems: Counter = Counter()
    with tempfile.TemporaryDirectory(prefix="zw-fuzz-") as tmp:
        proc, port = (None, args.port) if args.port else start_server(Path(tmp), args.rrl_rate)
        t0 = time.monotonic()
        try:
            fuzz_udp(port, packets[n_tcp:], stats, problems)
            fuzz_tcp(port, packets[:n_tcp], stats, problems)
            alive = still_answers(port) and (proc is None or proc.poll() is None)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(10)
    took = time.monotonic() - t0
    total = stats["udp sent"] + stats["tcp sent"]
    print(f"sent {total} mutated packets in {took:.1f}s (seed {args.seed})")
    for key in sorted(stats):
        print(f"  {key}: {stats[key]}")
    for key in sorted(problems):
        print(f"  PROBLEM {key}: {problems[key]}")
    print(f"same server process still answers SOA over UDP and TCP: {'yes' if alive else 'NO'}")
    return 0 if alive and not problems and total >= args.packets else 1


if __name__ == "__main__":
    sys.exit(main())
