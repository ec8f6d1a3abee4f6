"""How soon the embedded DNS server answers with a 1% plan's new data, at 50,000 endpoints.

Builds the bench region (bench/region.py) in a SQLite store, applies the first plan, starts
`zonewarden serve-dns` on 127.0.0.1:5399, then publishes and applies a plan in which 1% of
the endpoints changed and queries one changed endpoint until the new addresses come back.

    python bench/dns_pickup.py
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import dns.message
from region import ZONE, Shape, changed_indexes, endpoint_name
from zonewarden_run import drive_enactor, plan, publish

import dns.query
from zonewarden.core.enactor import EnactorConfig
from zonewarden.stores.sqlite import SqliteStore

shape = Shape()
wd = Path(tempfile.mkdtemp())
store = SqliteStore(wd / "r.db")
cfg = EnactorConfig(batch_size=1000)
g1 = publish(store, plan(shape))
drive_enactor(store, cfg, g1)
d2 = plan(shape, changed=True)
srv = subprocess.Popen(
    [
        sys.executable,
        "-m",
        "zonewarden",
        "serve-dns",
        "--store",
        str(wd / "r.db"),
        "--zone",
        ZONE,
        "--listen",
        "127.0.0.1:5399",
    ],
    stderr=subprocess.DEVNULL,
)
try:
    name = endpoint_name(next(iter(changed_indexes(shape))))
    q = dns.message.make_query(name, "A")
    for _ in range(300):
        try:
            r = dns.query.udp(q, "127.0.0.1", port=5399, timeout=0.5)
            break
        except Exception:
            time.sleep(0.1)
    old = {rr.address for rr in r.answer[0]} if r.answer else set()
    new = {r.address for r in d2.endpoints[name].records}
    g2 = publish(store, d2)
    started = time.monotonic()
    drive_enactor(store, cfg, g2)
    applied = time.monotonic()
    print(f"enactor: 1% plan applied in {1000 * (applied - started):.0f} ms (until idle)")
    while True:
        r = dns.query.udp(q, "127.0.0.1", port=5399, timeout=0.5)
        got = {rr.address for rr in r.answer[0]} if r.answer else set()
        if got and got <= new and not got <= old:
            break
        if time.monotonic() - applied > 20:
            print("timeout")
            break
        time.sleep(0.005)
    print(
        f"served {1000 * (time.monotonic() - started):.0f} ms after the apply started, {1000 * (time.monotonic() - applied):.0f} ms after it finished"
    )
finally:
    srv.terminate()
    srv.wait()
