"""`zonewarden serve-dns` as `zonewarden up` runs it: a real process over a SQLite store,
two processes sharing the port (SO_REUSEPORT), changes visible within 100 ms in both;
and `zonewarden export zonefile` from the same store."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dns.message
import dns.zone
import pytest

import dns.query
from tests.dns.peer_servers import free_port, wait_for_answer
from zonewarden.backends.embedded.synthetic import load, synthetic_contents
from zonewarden.core.model import Content, EndpointName, LbId, Policy, Record, RecordType
from zonewarden.stores.sqlite import SqliteStore

ZONEWARDEN = str(Path(sys.executable).parent / "zonewarden")
EP = EndpointName("ep0.example.")


@pytest.fixture
def sqlite_store(tmp_path):
    store = SqliteStore(tmp_path / "region.db")
    load(store, synthetic_contents(20, "example."))
    yield store, tmp_path / "region.db"
    store.close()


def a_records(port: int) -> set[str]:
    reply = dns.query.udp(dns.message.make_query(EP, "A"), "127.0.0.1", port=port, timeout=2)
    return {rd.address for rrset in reply.answer for rd in rrset}


@pytest.mark.servers
def test_two_processes_serve_and_follow_the_store(sqlite_store):
    store, path = sqlite_store
    port = free_port()
    argv = [ZONEWARDEN, "serve-dns", "--store", str(path), "--zone", "example."]
    proc = subprocess.Popen([*argv, "--listen", f"127.0.0.1:{port}", "--processes", "2"])
    try:
        wait_for_answer(port, "example.", 30.0, proc)
        time.sleep(0.5)  # let the second process bind too
        contents = dict(store.contents(store.newest()))
        contents[EP] = Content(
            60, Policy.WEIGHTED_ONE, (Record(RecordType.A, "192.0.2.200", 1, LbId("x")),)
        )
        load(store, contents)
        start = time.monotonic()
        # many queries from fresh source ports reach both processes; all must agree
        while any(a_records(port) != {"192.0.2.200"} for _ in range(20)):
            assert time.monotonic() - start < 2.0
        assert time.monotonic() - start < 0.5
        # the parent is the one process `up` supervises: it exits when told to
        proc.terminate()
        assert proc.wait(10) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.servers
def test_export_zonefile_command(sqlite_store, tmp_path):
    _, path = sqlite_store
    out = tmp_path / "example.zone"
    cmd = [ZONEWARDEN, "export", "zonefile", "--store", str(path), "--zone", "example."]
    done = subprocess.run([*cmd, "--output", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "20 endpoints" in done.stderr
    zone = dns.zone.from_text(out.read_text(), origin="example.", relativize=False)
    assert zone.get_rdataset("ep1.example.", "A") is not None
