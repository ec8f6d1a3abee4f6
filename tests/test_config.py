"""Config: every bad value is one clear error naming the file and line."""

from __future__ import annotations

import pytest

from zonewarden import config
from zonewarden.errors import ConfigError

GOOD = config.demo_toml()


def error_for(text: str, tmp_path) -> ConfigError:
    path = tmp_path / "region.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    return info.value


def line_of(text: str, needle: str) -> int:
    """The last line containing `needle` (a duplicate is reported where it repeats)."""
    return [i for i, line in enumerate(text.splitlines(), 1) if needle in line][-1]


def test_demo_config_loads_and_resolves_paths(tmp_path):
    path = tmp_path / "region.toml"
    path.write_text(GOOD)
    c = config.load(path)
    assert len(c.region.lbs) == 12 and len(c.region.endpoints) == 4
    assert c.store.path == tmp_path / "region.db"
    assert c.enactors.ids == ("az1", "az2", "az3")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("capacity = 110", "capacty = 110", "unknown key 'capacty' in [[lb]] (known: az, capacity"),
        ('"127.0.2.2"', '"127.0.2.300"', "'127.0.2.300' is not an IPv4 address"),
        ('"fd00:1::1"', '"fd00:::1::1"', "is not an IPv6 address"),
        ("capacity = 110", "capacity = -5", "-5 is outside 0..1000000000"),
        ('id = "lb-1b"', 'id = "lb-1a"', "duplicate load balancer id 'lb-1a'"),
        ('protocol = "safe"', 'protocol = "yolo"', "'yolo' is not one of: safe, legacy"),
        ('kind = "sqlite"', 'kind = "sqlight"', "'sqlight' is not one of: sqlite, etcd"),
        ('listen = ["127.0.0.1:5353"]', 'listen = ["127.0.0.1"]', "is not ADDR:PORT"),
        ("interval = 1.0", 'interval = "fast"', "expected a number"),
    ],
)
def test_bad_values_name_file_and_line(tmp_path, old, new, message):
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    err = error_for(text, tmp_path)
    assert message in str(err)
    assert str(err).startswith(str(tmp_path / "region.toml") + f" line {line_of(text, new)}:")


def test_endpoint_without_lbs(tmp_path):
    text = GOOD.replace('lbs = "*"', "lbs = []", 1)
    err = error_for(text, tmp_path)
    assert "has no load balancers" in str(err) and err.line == line_of(text, "lbs = []")


def test_endpoint_with_unknown_lb(tmp_path):
    err = error_for(GOOD.replace('lbs = "*"', 'lbs = ["lb-9z"]', 1), tmp_path)
    assert "unknown load balancer(s) ['lb-9z']" in str(err)


def test_duplicate_endpoint_names(tmp_path):
    text = GOOD.replace('name = "kv-fips.us-east-1.example."', 'name = "kv.us-east-1.example."')
    assert "duplicate endpoint name" in str(error_for(text, tmp_path))


def test_unknown_section_and_invalid_toml(tmp_path):
    assert "unknown section [planer]" in str(
        error_for(GOOD.replace("[planner]", "[planer]"), tmp_path)
    )
    assert "not valid TOML" in str(error_for(GOOD + "\n[[lb]\n", tmp_path))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml")


def test_all_zero_capacity_is_refused(tmp_path):
    text = GOOD
    for cap in ("100", "110", "120"):
        text = text.replace(f"capacity = {cap}", "capacity = 0")
    assert "total weight 0" in str(error_for(text, tmp_path))


SQLITE_STORE = '[store]\nkind = "sqlite"\npath = "region.db"'
HTTPS = 'kind = "etcd"\nendpoints = ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]'


def with_store(lines: str) -> str:
    text = GOOD.replace(SQLITE_STORE, "[store]\n" + lines)
    assert text != GOOD
    return text


@pytest.mark.parametrize(
    ("lines", "bad", "message"),
    [
        (
            'kind = "etcd"\nendpoints = ["http://10.0.0.1:2379"]\nca_file = "ca.pem"',
            "ca_file",
            "ca_file needs https:// endpoints: write them as https://HOST:PORT",
        ),
        (
            'kind = "etcd"\nendpoints = ["https://10.0.0.1:2379", "http://10.0.0.2:2379"]',
            "endpoints",
            "endpoints mix http:// and https://",
        ),
        (
            'kind = "etcd"\nendpoints = ["10.0.0.1:2379"]',
            "endpoints",
            "endpoint '10.0.0.1:2379' is not http://HOST:PORT or https://HOST:PORT",
        ),
        (HTTPS + '\ncert_file = "client.pem"', "cert_file", "cert_file needs key_file too"),
        (HTTPS + '\nkey_file = "client.key"', "key_file", "key_file needs cert_file too"),
        (
            HTTPS + '\nusername = "zw"\npassword = "x"\npassword_file = "pw"',
            "password_file",
            "set password or password_file, not both",
        ),
        (HTTPS + '\nusername = "zw"', "username", "username needs password or password_file"),
        (HTTPS + '\npassword = "x"', "password", "password needs username"),
        (HTTPS + '\nca_file = "missing.pem"', "ca_file", "missing.pem: No such file or directory"),
        (
            HTTPS + '\nusername = "zw"\npassword_file = "nope.txt"',
            "password_file",
            "nope.txt: No such file or directory",
        ),
        (HTTPS + '\nusername = "zw"\npassword_file = "empty"', "password_file", "is empty"),
    ],
)
def test_etcd_tls_and_auth_keys_are_checked(tmp_path, lines, bad, message):
    (tmp_path / "ca.pem").write_text("a CA")  # exists: only the named problem remains
    (tmp_path / "client.pem").write_text("a cert")
    (tmp_path / "client.key").write_text("a key")
    (tmp_path / "empty").write_text("\n")
    text = with_store(lines)
    err = error_for(text, tmp_path)
    assert message in str(err)
    assert err.line == line_of(text, f"{bad} =")


def test_etcd_tls_and_auth_keys_resolve_and_read(tmp_path):
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text(name)
    (tmp_path / "pw").write_text("s3cret\n")
    path = tmp_path / "region.toml"
    path.write_text(
        with_store(
            HTTPS + '\nca_file = "ca.pem"\ncert_file = "client.pem"\nkey_file = "client.key"\n'
            'username = "zw"\npassword_file = "pw"'
        )
    )
    s = config.load(path).store
    assert (s.ca_file, s.cert_file, s.key_file) == (
        tmp_path / "ca.pem",
        tmp_path / "client.pem",
        tmp_path / "client.key",
    )
    assert (s.username, s.password) == ("zw", "s3cret")
    assert "s3cret" not in repr(s)
