"""Plan documents: round trip, and errors that point at the exact place."""

from __future__ import annotations

import pytest
from tests.helpers import content, draft

from zonewarden.core.planfile import PlanFileError, from_document, to_document


def test_round_trip():
    d = draft(a=content("10.0.0.1", "10.0.0.2"), b=content("10.0.0.3"))
    assert from_document(to_document(d.endpoints, generation=4)).digest == d.digest


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, 'needs an "endpoints" table'),
        ({"endpoints": {}, "extra": 1}, "unknown top-level key(s) ['extra']"),
        ({"endpoints": {"a..b": {"records": []}}}, "empty label"),
        (
            {"endpoints": {"a.": {"records": [{"type": "A", "address": "1.2.3", "weight": 1}]}}},
            "records[0].address: '1.2.3' is not an IPv4 address",
        ),
        (
            {"endpoints": {"a.": {"records": [{"type": "MX", "address": "1.2.3.4", "weight": 1}]}}},
            "is not A or AAAA",
        ),
        (
            {"endpoints": {"a.": {"records": [{"type": "A", "address": "1.2.3.4", "weight": -1}]}}},
            "weight: -1 is not an integer in 0..255",
        ),
        (
            {
                "endpoints": {
                    "a.": {"records": [{"type": "A", "address": "1.2.3.4", "weight": 10**30}]}
                }
            },
            "is not an integer in 0..255",
        ),
        (
            {
                "endpoints": {
                    "a.": {"records": [{"type": "A", "address": "1.2.3.4", "weight": 1, "lb": {}}]}
                }
            },
            "lb: {} is not a load balancer id",
        ),
        ({"endpoints": {"k_v.example.": {"records": []}}}, "has '_'"),
        ({"endpoints": {"\U0001f642.example.": {"records": []}}}, "not a valid internationalised"),
        ({"endpoints": {"a.": {"ttl": -3, "records": []}}}, "ttl: -3 is not an integer"),
        ({"endpoints": {"a.": {"records": "x"}}}, "expected a list of records"),
    ],
)
def test_errors_say_where(doc, message):
    with pytest.raises(PlanFileError) as info:
        from_document(doc)
    assert message in str(info.value)


def test_idn_names_in_a_plan_file_become_a_labels():
    doc = {"endpoints": {"kü.example.": {"records": []}}}
    assert list(from_document(doc).endpoints) == ["xn--k-eha.example."]
