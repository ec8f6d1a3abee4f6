"""One definition of a valid DNS name: LDH labels, lengths on the wire, IDNs as A-labels."""

from __future__ import annotations

import pytest

from zonewarden.core.model import check_dns_name
from zonewarden.core.names import canonical_name, display_name, in_zone, unicode_form


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("kv.example", "kv.example."),
        ("KV.Example.", "kv.example."),
        ("1kv.example.", "1kv.example."),
        ("kü.us-east-1.example.", "xn--k-eha.us-east-1.example."),
        ("кв.example.", "xn--b1ap.example."),
        ("XN--K-EHA.example.", "xn--k-eha.example."),
        ("a" * 63 + ".example.", "a" * 63 + ".example."),
    ],
)
def test_accepted_names(text, canonical):
    assert canonical_name(text) == canonical == check_dns_name(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty DNS name"),
        (".", "empty DNS name"),
        ("a..example.", "empty label"),
        (".example.", "empty label"),
        ("k v.example.", "white space"),
        ("a_b.example.", "has '_'"),
        ("kv!.example.", "has '!'"),
        ("k\x00.example.", "has '\\x00'"),
        ("-kv.example.", "starts or ends with '-'"),
        ("kv-.example.", "starts or ends with '-'"),
        ("ab--cd.example.", "reserved for A-labels"),
        ("xn--zz.example.", "not a valid A-label"),
        ("a" * 64 + ".example.", "is 64 characters"),
        (".".join(["a" * 63] * 4), "is 255 characters long"),
        ("\U0001f642.example.", "not a valid internationalised label"),
        ("k\u200d.example.", "not a valid internationalised label"),
        ("ü" * 60 + ".example.", "Label too long"),
    ],
)
def test_refused_names_say_why(text, why):
    with pytest.raises(ValueError) as info:
        canonical_name(text)
    assert why in str(info.value)


def test_the_longest_name_fits_the_wire():
    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61]) + "."
    assert len(canonical_name(longest)) == 254  # 255 octets with the root's length octet
    with pytest.raises(ValueError):
        canonical_name("e" + longest)


def test_not_a_string():
    with pytest.raises(ValueError, match="must be a string"):
        canonical_name(5)  # type: ignore[arg-type]


def test_idn_shown_both_ways():
    name = canonical_name("kü.us-east-1.example.")
    assert unicode_form(name) == "kü.us-east-1.example."
    assert display_name(name) == "xn--k-eha.us-east-1.example. (kü.us-east-1.example.)"
    assert display_name("kv.example.") == "kv.example."


def test_in_zone_is_at_a_label_boundary():
    assert in_zone("kv.example.", "example.")
    assert in_zone("example.", "example.")
    assert not in_zone("kvexample.", "example.")
    assert in_zone("anything.", ".")
