"""`zonewarden backend check` against a real BIND, and its errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.backends.servers import KEY_NAME, KEY_SECRET
from zonewarden.config import demo_toml

pytestmark = pytest.mark.servers


def check(tmp_path, backend_toml: str, *extra: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "region.toml"
    cfg.write_text(demo_toml() + "\n[backend]\n" + backend_toml)
    return subprocess.run(
        [sys.executable, "-m", "zonewarden", "backend", "check", "--config", str(cfg), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )


def rfc2136_toml(port: int, secret: str = KEY_SECRET) -> str:
    return (
        f'kind = "rfc2136"\nserver = "127.0.0.1"\nport = {port}\n'
        f'tsig_key_name = "{KEY_NAME}"\ntsig_secret = "{secret}"\n'
    )


def test_check_proves_the_key_and_lists_endpoints(tmp_path, bind_server):
    out = check(tmp_path, rfc2136_toml(bind_server.port))
    assert out.returncode == 0, out.stderr
    assert "fenced write to zonewarden-check.example.: applied" in out.stdout
    assert "kv.us-east-1.example." in out.stdout


def test_check_with_a_wrong_key_names_server_and_what_to_fix(tmp_path, bind_server):
    out = check(tmp_path, rfc2136_toml(bind_server.port, "AAAA" + KEY_SECRET[4:]))
    assert out.returncode == 2
    assert f"127.0.0.1:{bind_server.port}" in out.stderr
    assert "[backend] tsig_key_name" in out.stderr


def test_missing_server_is_a_config_error_with_its_line(tmp_path):
    out = check(tmp_path, 'kind = "rfc2136"\n')
    assert out.returncode == 2
    assert "line" in out.stderr and "needs 'server'" in out.stderr


def test_check_names_the_server_and_recommends_cname_markers_on_powerdns(
    tmp_path, servers, tmp_path_factory
):
    from tests.backends.conftest import server_of

    pdns = server_of(servers, "pdns", tmp_path_factory)
    txt = check(tmp_path, rfc2136_toml(pdns.port) + 'marker_type = "txt"\n')
    assert txt.returncode == 0, txt.stderr
    assert "PowerDNS Authoritative Server" in txt.stdout
    assert 'marker_type = "cname"' in txt.stdout.replace("\n", " ")
    cname = check(tmp_path, rfc2136_toml(pdns.port))  # the default: cname
    assert cname.returncode == 2  # the scratch name holds the TXT marker written above
    assert "holds a TXT marker but [backend] marker_type is 'cname'" in cname.stderr
    cname = check(tmp_path, rfc2136_toml(pdns.port), "--no-write")
    assert cname.returncode == 0, cname.stderr
    assert "_zw.<name> CNAME" in cname.stdout and "marker_type" not in cname.stdout


UP = (sys.executable, "-m", "zonewarden", "up")


def test_up_drives_an_external_server_and_starts_no_embedded_one(tmp_path, bind_server):
    """`zonewarden up` with [backend] rfc2136: the enactors write BIND, every endpoint
    keeps up with the plans there, and no embedded DNS server is started."""
    from tests.backends.conftest import rfc2136
    from zonewarden.core.region import demo_region
    from zonewarden.stores.sqlite import SqliteStore

    cfg = tmp_path / "region.toml"
    cfg.write_text(
        demo_toml(planner_interval=0.5) + "\n[backend]\n" + rfc2136_toml(bind_server.port)
    )
    out = subprocess.run(
        [*UP, "--config", str(cfg), "--quiet", "--no-api", "--duration", "6"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    said = " ".join(out.stdout.split())
    assert "records go to the external rfc2136 backend" in said and "dig @" not in said
    newest = SqliteStore(tmp_path / "region.db").newest()
    names = list(demo_region().endpoints)
    live = rfc2136(bind_server).read(names)
    at_server = {n: int(live[n].marker.generation) for n in names if live[n].marker}
    assert newest >= 2 and len(at_server) == len(names), at_server
    # `up` stops planner and enactors together: the last plan or two may be unapplied
    assert all(newest - g <= 2 for g in at_server.values()), (newest, at_server)
