"""Where an RFC 2136 server spends its time on each part of a fenced endpoint write.

One UPDATE of --batch endpoints (8 A records each, every address new) is timed at the
server for each message shape below, on a fresh server per shape whose zone already
holds --zone-names other endpoints (9 rows each, like bench/backends_apply.py). The
shapes add the parts of ZoneWarden's fenced write one at a time:

  raw-marked   delete A rrset + 8 adds, at names that have a `_zw` TXT marker below
               them (the names bench/backends_apply.py gives its raw nsupdate peer: it
               seeds them through the fenced backend)
  raw-plain    the same at names with nothing below them (a zone without ZoneWarden)
  marker       raw-marked + replace the marker TXT (delete rrset, add) + delete AAAA
  fenced       marker + value-dependent prerequisite on the old marker: the message
               Rfc2136Backend sends
  cname        prototype, not what ZoneWarden sends: the marker as a CNAME, prerequisite
               on its exact old value, replaced by adding the new one (RFC 2136 3.4.2.2
               replaces a CNAME in place, so the marker is never deleted)

Each timed UPDATE must answer NOERROR and the marker must read back as the new one.

    python bench/update_shapes.py [--servers pdns,bind,knot] [--batch 100] [--reps 3]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dns.message
import dns.rcode
import dns.tsigkeyring
import dns.update

import dns.query

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.backends.servers import KEY_NAME, KEY_SECRET, STARTERS, ZONE, Running

KEYRING = dns.tsigkeyring.from_text({KEY_NAME: KEY_SECRET})
Shape = Callable[[dns.update.UpdateMessage, str, int, int], None]


def addresses(gen: int) -> list[str]:
    return [f"10.{gen}.0.{j + 1}" for j in range(8)]


def txt_marker(gen: int) -> str:
    return f'"zw1 g={gen} d=0123456789abcdef"'


def cname_marker(gen: int) -> str:
    return f"zw1.g{gen}.d0123456789abcdef.invalid."


def replace_a(u: dns.update.UpdateMessage, name: str, new: int) -> None:
    u.delete(name, "A")
    for a in addresses(new):
        u.add(name, 60, "A", a)


def raw(u: dns.update.UpdateMessage, name: str, old: int, new: int) -> None:
    replace_a(u, name, new)


def marker(u: dns.update.UpdateMessage, name: str, old: int, new: int) -> None:
    u.delete(f"_zw.{name}", "TXT")
    u.add(f"_zw.{name}", 60, "TXT", txt_marker(new))
    replace_a(u, name, new)
    u.delete(name, "AAAA")


def fenced(u: dns.update.UpdateMessage, name: str, old: int, new: int) -> None:
    u.present(f"_zw.{name}", "TXT", txt_marker(old))
    marker(u, name, old, new)


def cname(u: dns.update.UpdateMessage, name: str, old: int, new: int) -> None:
    u.present(f"_zw.{name}", "CNAME", cname_marker(old))
    replace_a(u, name, new)
    u.delete(name, "AAAA")
    u.add(f"_zw.{name}", 60, "CNAME", cname_marker(new))


# shape: (how it writes, marker type below each name: None, "TXT" or "CNAME")
SHAPES: dict[str, tuple[Shape, str | None]] = {
    "raw-marked": (raw, "TXT"),
    "raw-plain": (raw, None),
    "marker": (marker, "TXT"),
    "fenced": (fenced, "TXT"),
    "cname": (cname, "CNAME"),
}


def update() -> dns.update.UpdateMessage:
    return dns.update.UpdateMessage(ZONE, keyring=KEYRING, keyname=KEY_NAME)


def exchange(run: Running, message: dns.message.Message, timeout: float) -> float:
    """Seconds from sending the rendered UPDATE to its answer; the answer must be NOERROR."""
    wire = message.to_wire()
    with socket.create_connection((run.server, run.port), timeout) as sock:
        start = time.perf_counter()
        dns.query.send_tcp(sock, wire)
        answer, _ = dns.query.receive_tcp(
            sock, time.time() + timeout, keyring=KEYRING, request_mac=message.mac
        )
        elapsed = time.perf_counter() - start
    if answer.rcode() != dns.rcode.NOERROR:
        raise RuntimeError(f"{run.kind}: UPDATE answered {dns.rcode.to_text(answer.rcode())}")
    return elapsed


def seed(run: Running, prefix: str, count: int, marker_type: str | None, timeout: float) -> None:
    for start in range(0, count, 100):
        u = update()
        for i in range(start, min(start + 100, count)):
            name = f"{prefix}{i}"
            for a in addresses(1):
                u.add(name, 60, "A", a)
            if marker_type == "TXT":
                u.add(f"_zw.{name}", 60, "TXT", txt_marker(1))
            elif marker_type == "CNAME":
                u.add(f"_zw.{name}", 60, "CNAME", cname_marker(1))
        exchange(run, u, timeout)


def check_marker(run: Running, name: str, marker_type: str, gen: int) -> None:
    q = dns.message.make_query(f"_zw.{name}.{ZONE}", marker_type)
    answer = dns.query.tcp(q, run.server, port=run.port, timeout=5)
    values = [r.to_text() for rrset in answer.answer for r in rrset]
    want = txt_marker(gen) if marker_type == "TXT" else cname_marker(gen)
    if values != [want]:
        raise RuntimeError(f"{run.kind}: marker reads {values}, not [{want}]")


def measure(kind: str, shape: str, args: argparse.Namespace, workdir: Path) -> float:
    """Median seconds of one UPDATE of --batch endpoints in this shape."""
    write, marker_type = SHAPES[shape]
    run = STARTERS[kind](workdir / f"{kind}-{shape}")
    try:
        seed(run, "other", args.zone_names, "TXT", args.timeout)
        seed(run, "e", args.batch, marker_type, args.timeout)
        times = []
        for rep in range(args.reps):
            old, new = 1 + rep, 2 + rep
            u = update()
            for i in range(args.batch):
                write(u, f"e{i}", old, new)
            times.append(exchange(run, u, args.timeout))
            if marker_type is not None and shape != "raw-marked":
                check_marker(run, "e0", marker_type, new)
        return statistics.median(times)
    finally:
        run.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="pdns")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--batch", type=int, default=100, help="endpoints per UPDATE")
    parser.add_argument("--zone-names", type=int, default=800, help="other endpoints in zone")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per UPDATE")
    args = parser.parse_args()
    print("| server | shape | ms per UPDATE | rrsets/s | vs raw-marked |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.servers.split(","):
            base = None
            for shape in args.shapes.split(","):
                seconds = measure(kind, shape, args, Path(tmp))
                base = seconds if shape == "raw-marked" else base
                ratio = f"{base / seconds:.2f}x" if base else "-"
                print(
                    f"| {kind} | {shape} | {seconds * 1000:,.0f} | "
                    f"{args.batch / seconds:,.0f} | {ratio} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
