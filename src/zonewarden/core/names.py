"""What a valid DNS name is, in one place: the config, plan files, the API and the DNS
server all call `canonical_name`, so nothing one accepts can be unservable by another.

Rules kept here:
- a name is absolute and lower-case ASCII: labels of letters, digits and hyphens
  (RFC 1035 section 2.3.1, as relaxed by RFC 1123: a label may start with a digit), no
  label starting or ending with a hyphen, 1..63 octets per label, <= 255 octets in all
  on the wire (<= 253 characters of text without the final dot);
- an internationalised name is accepted in its A-label form (`xn--...`, which must
  decode under IDNA 2008) or as U-labels, which are converted with the `idna` package
  (UTS 46 mapping) to A-labels; `display_name` shows such a name both ways;
- underscores are refused: endpoint names are host names, and ZoneWarden itself uses
  `_zw.<name>` for generation markers;
- every refusal says which label is wrong and why.
"""

from __future__ import annotations

import idna

MAX_LABEL = 63
MAX_TEXT = 253  # + the final dot + the root's length octet = 255 on the wire
LDH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def canonical_name(text: str) -> str:
    """The absolute, lower-case, A-label form of `text`, or ValueError saying why not."""
    if not isinstance(text, str):
        raise ValueError(f"a DNS name must be a string, not {type(text).__name__}")
    raw = text.strip()
    if not raw or raw == ".":
        raise ValueError("empty DNS name")
    if any(c.isspace() for c in raw):
        raise ValueError(f"DNS name {text!r} contains white space")
    body = raw[:-1] if raw.endswith(".") else raw
    labels = [_label(text, label) for label in body.split(".")]
    name = ".".join(labels) + "."
    if len(name) - 1 > MAX_TEXT:
        form = "" if name.rstrip(".") == body.lower() else " in A-label form"
        raise ValueError(
            f"DNS name {text!r} is {len(name) - 1} characters long{form}; "
            f"the limit is {MAX_TEXT} (255 octets on the wire)"
        )
    return name


def _label(text: str, label: str) -> str:
    if not label:
        raise ValueError(f"DNS name {text!r} has an empty label (two dots, or a leading dot)")
    if not label.isascii():
        return _u_label(text, label)
    label = label.lower()
    if len(label) > MAX_LABEL:
        raise ValueError(
            f"DNS name {text!r}: label {label[:20]}... is {len(label)} characters; "
            f"the limit is {MAX_LABEL}"
        )
    bad = sorted(set(label) - LDH)
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise ValueError(
            f"DNS name {text!r}: label {label!r} has {shown}; "
            "a label is letters a-z, digits 0-9 and '-'"
        )
    if label.startswith("-") or label.endswith("-"):
        raise ValueError(f"DNS name {text!r}: label {label!r} starts or ends with '-'")
    if label[2:4] == "--":
        if not label.startswith("xn--"):
            raise ValueError(
                f"DNS name {text!r}: label {label!r} has '--' in positions 3-4, "
                "which is reserved for A-labels (xn--...)"
            )
        try:
            idna.decode(label)
        except idna.IDNAError as exc:
            raise ValueError(
                f"DNS name {text!r}: {label!r} is not a valid A-label ({exc})"
            ) from None
    return label


def _u_label(text: str, label: str) -> str:
    try:
        encoded = idna.encode(label, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(
            f"DNS name {text!r}: label {label!r} is not a valid internationalised label ({exc}); "
            "write it in A-label form (xn--...) or use letters a-z, digits and '-'"
        ) from None
    if len(encoded) > MAX_LABEL:
        raise ValueError(
            f"DNS name {text!r}: label {label!r} is {len(encoded)} characters as the A-label "
            f"{encoded}; the limit is {MAX_LABEL}"
        )
    return encoded


def unicode_form(name: str) -> str:
    """The U-label form of a canonical name (the name itself when it has no A-labels)."""
    if "xn--" not in name:
        return name
    labels = []
    for label in name.rstrip(".").split("."):
        try:
            labels.append(idna.decode(label) if label.startswith("xn--") else label)
        except idna.IDNAError:
            labels.append(label)
    return ".".join(labels) + "."


def display_name(name: str) -> str:
    """A canonical name for people: both forms when it is internationalised."""
    shown = unicode_form(name)
    return name if shown == name else f"{name} ({shown})"


def in_zone(name: str, zone: str) -> bool:
    """True when canonical `name` is `zone` or below it, at a label boundary."""
    return zone == "." or name == zone or name.endswith("." + zone)
