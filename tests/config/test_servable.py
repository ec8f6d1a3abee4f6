"""Property: any endpoint name the config accepts, the embedded server can encode and
answer (the path by which one non-ASCII name once crashed the server and darkened the
zone). Names are generated from a wide alphabet: ASCII, punctuation, Latin, Cyrillic,
CJK, emoji, joiners and white space."""

from __future__ import annotations

import json
import random

import dns.message
import dns.rcode
import dns.rdatatype
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from zonewarden import config
from zonewarden.backends.embedded.responder import Responder
from zonewarden.backends.embedded.snapshot import SnapshotBuilder
from zonewarden.backends.embedded.zonefile import export_zone
from zonewarden.cli.dns import settings_from
from zonewarden.core.model import Generation, ZoneEntry
from zonewarden.core.planner import build_draft
from zonewarden.errors import ConfigError

ALPHABET = st.one_of(
    st.sampled_from("abcxyzKV019-_.*! \t\\\"'"),
    st.sampled_from("üßéñçøåЖкв中文ひらがなé\u0301\u200d\u00a0\U0001f642ﬀİ\u0131"),
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
)
LDH = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
IDN = st.text(st.sampled_from("abcüßéñкв中ひé-"), min_size=1, max_size=20)
LABELS = st.one_of(LDH, IDN, st.text(ALPHABET, min_size=0, max_size=70))
NAMES = st.lists(LABELS, min_size=1, max_size=5).map(".".join)


def region_toml(name: str, ns: str) -> str:
    return f"""
[region]
zone = "example."
[dns]
ns = [{json.dumps(ns, ensure_ascii=False)}]
[[lb]]
id = "a"
az = "az1"
ipv4 = ["192.0.2.1"]
ipv6 = ["2001:db8::1"]
[[endpoint]]
name = {json.dumps(name + ".example.", ensure_ascii=False)}
types = ["A", "AAAA"]
"""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NAMES, NAMES)
def test_anything_the_config_accepts_is_answered(name, ns):
    try:
        cfg = config.parse(region_toml(name, ns + ".example."))
    except ConfigError:
        event("refused")
        return  # refused with a message: fine (tests/config/test_validation.py checks which)
    draft = build_draft(cfg.region, {})
    server = settings_from(cfg.dns, (cfg.region.zone,), (), None)
    entries = {n: ZoneEntry(n, Generation(1), c) for n, c in draft.endpoints.items()}
    snapshot = SnapshotBuilder(server.zones).build(1, entries)
    responder = Responder(snapshot, random.Random(1))
    assert snapshot.endpoints == len(entries) == 1
    event("accepted")
    for endpoint in entries:
        for rtype in ("A", "AAAA", "NS", "SOA"):
            qname = endpoint if rtype in ("A", "AAAA") else cfg.region.zone
            wire = responder.respond(dns.message.make_query(qname, rtype).to_wire(), udp=False)
            assert wire is not None
            reply = dns.message.from_wire(wire)
            assert reply.rcode() == dns.rcode.NOERROR
            assert reply.answer and reply.answer[0].rdtype == dns.rdatatype.from_text(rtype)
    export_zone(server.zones[0], 1, entries)  # and the zone file export encodes it too


def test_the_name_that_once_darkened_the_zone_is_served():
    cfg = config.parse(region_toml("kü.us-east-1", "ns1"))
    assert list(cfg.region.endpoints) == ["xn--k-eha.us-east-1.example."]
