"""Config validation that matches what can be served: every endpoint the config accepts
has a servable name and at least one record of each of its types; every refusal names
the endpoint's own line; odd files and odd types are clear errors, never tracebacks."""

from __future__ import annotations

import pytest

from zonewarden import config
from zonewarden.errors import ConfigError

SMALL = """\
[region]
name = "r"
zone = "example."

[[lb]]
id = "a"
az = "az1"
ipv4 = ["192.0.2.1"]
capacity = 10

[[lb]]
id = "b"
az = "az2"
ipv4 = ["192.0.2.2"]
ipv6 = ["2001:db8::2"]
capacity = 10

[[endpoint]]
name = "first.example."
lbs = "*"

[[endpoint]]
name = "kv.example."
lbs = ["a", "b"]
types = ["A"]
"""


def error_for(text: str, tmp_path) -> ConfigError:
    path = tmp_path / "region.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    return info.value


def line_of(text: str, needle: str) -> int:
    return [i for i, line in enumerate(text.splitlines(), 1) if needle in line][-1]


def load(text: str, tmp_path) -> config.Config:
    path = tmp_path / "region.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path)


def test_small_config_loads(tmp_path):
    assert len(load(SMALL, tmp_path).region.endpoints) == 2


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("kü.example.", "xn--k-eha.example."),
        ("кв.example.", "xn--b1ap.example."),
        ("xn--k-eha.example.", "xn--k-eha.example."),
        ("KV2.Example", "kv2.example."),
    ],
)
def test_idns_are_stored_as_a_labels(tmp_path, given, stored):
    c = load(SMALL.replace('"kv.example."', f'"{given}"'), tmp_path)
    assert stored in c.region.endpoints


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("k_v.example.", "has '_'"),
        ("kv..example.", "empty label"),
        ("-kv.example.", "starts or ends with '-'"),
        ("xn--zz.example.", "not a valid A-label"),
        ("\U0001f642.example.", "not a valid internationalised label"),
        ("kv.example.org.", "outside the zone example."),
        ("kvexample.", "outside the zone example."),
    ],
)
def test_bad_endpoint_names_at_their_line(tmp_path, name, why):
    text = SMALL.replace('"kv.example."', f'"{name}"')
    err = error_for(text, tmp_path)
    assert why in str(err)
    assert err.line == line_of(text, f'name = "{name}"')


@pytest.mark.parametrize(
    ("old", "new", "needle", "why"),
    [
        ('types = ["A"]', "types = []", "types = []", "types = []: it would serve nothing"),
        ('types = ["A"]', 'types = ["A", "A"]', "types = [", "record type twice"),
        ('types = ["A"]', 'types = ["AAAA"]', 'lbs = ["a", "b"]', None),  # b has ipv6: fine
        ('lbs = ["a", "b"]', 'lbs = ["a"]', None, None),
        ('lbs = ["a", "b"]', 'lbs = ["a", "a"]', 'lbs = ["a", "a"]', "names ['a'] twice"),
    ],
)
def test_endpoint_shape(tmp_path, old, new, needle, why):
    text = SMALL.replace(old, new)
    assert text != SMALL
    if why is None:
        load(text, tmp_path)
        return
    err = error_for(text, tmp_path)
    assert why in str(err)
    assert err.line == line_of(text, needle)


def test_no_address_of_its_type_is_an_error_at_the_endpoint(tmp_path):
    text = SMALL.replace('lbs = ["a", "b"]', 'lbs = ["a"]').replace(
        'types = ["A"]', 'types = ["AAAA"]'
    )
    err = error_for(text, tmp_path)
    assert "wants AAAA records but none of its load balancers" in str(err)
    assert "ipv6 address" in str(err)
    assert err.line == line_of(text, 'types = ["AAAA"]')  # not [region]'s line 1


def test_no_lb_that_can_take_traffic_is_an_error_at_the_endpoint(tmp_path):
    text = SMALL.replace('lbs = ["a", "b"]', 'lbs = ["a"]').replace(
        'ipv4 = ["192.0.2.1"]\ncapacity = 10', 'ipv4 = ["192.0.2.1"]\ncapacity = 0'
    )
    err = error_for(text, tmp_path)
    assert "none of its load balancers ['a'] can take traffic" in str(err)
    assert err.line == line_of(text, 'lbs = ["a"]')


def test_every_lb_unhealthy_for_one_endpoint(tmp_path):
    text = SMALL.replace('lbs = ["a", "b"]', 'lbs = ["a"]').replace(
        "capacity = 10\n\n[[lb]]", "capacity = 10\nhealthy = false\n\n[[lb]]", 1
    )
    assert "can take traffic" in str(error_for(text, tmp_path))


def test_endpoint_error_without_the_key_points_at_its_header(tmp_path):
    text = SMALL.replace('name = "first.example."\nlbs = "*"', 'name = "first.example."')
    text = text.replace('ipv4 = ["192.0.2.1"]\ncapacity = 10', 'ipv4 = ["192.0.2.1"]\ncapacity = 0')
    text = text.replace(
        'ipv6 = ["2001:db8::2"]\ncapacity = 10', 'ipv6 = ["2001:db8::2"]\ncapacity = 0'
    )
    text += '\n[[lb]]\nid = "c"\naz = "az3"\nipv6 = ["2001:db8::3"]\ncapacity = 5\n'
    err = error_for(text, tmp_path)  # first.example. wants A, only c (IPv6 only) is live
    assert "wants A records" in str(err)
    header = text.splitlines().index("[[endpoint]]") + 1
    assert err.line == header  # its own [[endpoint]] header, not a line of [region]


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("capacity = 10", 'healthy = "yes"\ncapacity = 10', "expected true or false, got 'yes'"),
        ('zone = "example."', 'zone = "exa mple."', "white space"),
        ('zone = "example."', 'zone = "ex_ample."', "has '_'"),
        ('zone = "example."', "zone = 5", "expected a non-empty string"),
    ],
)
def test_odd_values(tmp_path, old, new, why):
    text = SMALL.replace(old, new, 1)
    err = error_for(text, tmp_path)
    assert why in str(err)
    assert "is not one of: \n" not in str(err) and not str(err).endswith("one of: ")
    assert err.line == line_of(text, new.splitlines()[0])


def test_enactor_cleanup_must_be_a_boolean(tmp_path):
    err = error_for(SMALL + '\n[enactors]\ncleanup = "yes"\n', tmp_path)
    assert "expected true or false, got 'yes'" in str(err)


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ('\n[dns]\nsoa_mname = "ns_1.example."\n', "has '_'"),
        ('\n[dns]\nns = ["nś1.example.", "ns\u00a0.example."]\n', "white space"),
        ('\n[dns]\nns = ["ns1.example.", "NS1.example."]\n', "listed twice"),
        ('\n[dns]\nsoa_rname = "host master.example."\n', "white space"),
    ],
)
def test_names_the_dns_server_writes_are_checked(tmp_path, extra, why):
    err = error_for(SMALL + extra, tmp_path)
    assert why in str(err) and err.line is not None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            "lb = 5\n" + SMALL.split("[[lb]]")[0],
            "lb must be written as [[lb]] tables, not a number",
        ),
        ('store = "x"\n' + SMALL, "store must be a table"),
        (SMALL + "\n[[planner]]\ninterval = 1\n", "planner must be a table"),
        (SMALL.replace("[[endpoint]]", "[endpoint]", 1).replace("[[endpoint]]", "[x]"), None),
    ],
)
def test_odd_shapes(tmp_path, text, why):
    err = error_for(text, tmp_path)
    if why is not None:
        assert why in str(err)


def test_binary_file(tmp_path):
    path = tmp_path / "region.toml"
    path.write_bytes(b"SQLite format 3\x00\x10\x00\x01\x01" + bytes(range(256)))
    with pytest.raises(ConfigError, match="looks like a binary file"):
        config.load(path)


def test_not_utf8(tmp_path):
    path = tmp_path / "region.toml"
    path.write_bytes(SMALL.replace("kv.example.", "kv\xe9.example.").encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xe9") as info:
        config.load(path)
    assert info.value.line == line_of(SMALL, "kv.example.")


def test_utf8_bom_is_tolerated(tmp_path):
    path = tmp_path / "region.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SMALL.encode())
    assert len(config.load(path).region.endpoints) == 2


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        config.load(tmp_path)


def test_plan_history_defaults_to_a_day_and_a_thousand_plans(tmp_path):
    enactor = load(SMALL, tmp_path).enactors.config
    assert (enactor.history_age, enactor.history_count) == (86400.0, 1000)
    enactor = load(SMALL + "\n[enactors]\nhistory_age = 60\nhistory_count = 0\n", tmp_path)
    assert (enactor.enactors.config.history_age, enactor.enactors.config.history_count) == (60, 0)


@pytest.mark.parametrize(
    ("line", "why"),
    [("history_age = -1", "history_age"), ("history_count = 1.5", "history_count")],
)
def test_plan_history_keys_are_checked_at_their_line(tmp_path, line, why):
    text = SMALL + f"\n[enactors]\n{line}\n"
    err = error_for(text, tmp_path)
    assert why in str(err) and err.line == line_of(text, line)


NS = '\n[[dns.nameservers]]\nname = "{name}"\n{addrs}\n'


@pytest.mark.parametrize(
    ("block", "why"),
    [
        (NS.format(name="ns1.example.", addrs=""), "needs an address"),
        (NS.format(name="kv.example.", addrs='ipv4 = ["192.0.2.53"]'), "is also an endpoint"),
        (NS.format(name="ns1.example.", addrs='ipv4 = ["2001:db8::1"]'), "is not an IPv4 address"),
        (NS.format(name="ns_1.example.", addrs='ipv4 = ["192.0.2.53"]'), "has '_'"),
        (NS.format(name="ns1.example.", addrs='ipv4 = ["192.0.2.53"]\nport = 53'), "got ["),
        (
            '\n[dns]\nns = ["ns1.example."]\n'
            + NS.format(name="ns1.example.", addrs='ipv4 = ["192.0.2.53"]'),
            "not both",
        ),
    ],
)
def test_nameservers_must_resolve(tmp_path, block, why):
    err = error_for(SMALL + block, tmp_path)
    assert why in str(err), str(err)
    assert err.line is not None


def test_nameservers_with_addresses_and_outside_ones(tmp_path):
    text = SMALL + NS.format(name="ns1.example.", addrs='ipv4 = ["192.0.2.53"]')
    text += NS.format(name="ns.other.net.", addrs="")  # outside the zone: resolved elsewhere
    c = load(text, tmp_path)
    assert [n for n, _, _ in c.dns["nameservers"]] == ["ns1.example.", "ns.other.net."]
