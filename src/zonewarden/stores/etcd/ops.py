"""Request builders for etcd v3's JSON gateway: compares, puts, deletes and ranges as
the JSON the gateway takes (keys and values base64), and `KV`, a decoded key-value.

Pure data: no I/O here, so the stores build their Txns from these and `client.py`
sends them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def prefix_end(prefix: bytes) -> bytes:
    """The range_end that makes [prefix, end) every key starting with `prefix`."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


@dataclass(frozen=True, slots=True)
class KV:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int


# -- request builders (the JSON forms of etcdserverpb messages) ----------------------------
def compare_mod(key: bytes, mod_revision: int) -> Json:
    """True when `key` was last modified at `mod_revision` (0: the key does not exist)."""
    return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(mod_revision)}


def compare_unchanged_since(prefix: bytes, revision: int) -> Json:
    """True when no key under `prefix` was created or modified after `revision`."""
    return {
        "key": b64(prefix),
        "range_end": b64(prefix_end(prefix)),
        "target": "MOD",
        "result": "LESS",
        "mod_revision": str(revision + 1),
    }


def compare_value(key: bytes, result: str, value: bytes) -> Json:
    """Byte-wise VALUE compare (`result`: EQUAL, LESS, ...); always false if `key` is absent."""
    return {"key": b64(key), "target": "VALUE", "result": result, "value": b64(value)}


def compare_created(key: bytes) -> Json:
    """True when `key` exists."""
    return {"key": b64(key), "target": "CREATE", "result": "GREATER", "create_revision": "0"}


def compare_none_in(start: bytes, end: bytes) -> Json:
    """True when no key in [start, end) exists (a range compare against create_revision 0)."""
    return {
        "key": b64(start),
        "range_end": b64(end),
        "target": "CREATE",
        "result": "EQUAL",
        "create_revision": "0",
    }


def put(key: bytes, value: bytes) -> Json:
    return {"request_put": {"key": b64(key), "value": b64(value)}}


def delete(key: bytes, *, prefix: bool = False) -> Json:
    body = {"key": b64(key)}
    if prefix:
        body["range_end"] = b64(prefix_end(key))
    return {"request_delete_range": body}


def get(
    key: bytes, *, prefix: bool = False, keys_only: bool = False, serializable: bool = False
) -> Json:
    body: Json = {"key": b64(key)}
    if prefix:
        body["range_end"] = b64(prefix_end(key))
    if keys_only:
        body["keys_only"] = True
    if serializable:
        body["serializable"] = True
    return {"request_range": body}


def first_key(start: bytes, end: bytes) -> Json:
    """The smallest key in [start, end), keys only (one row at most)."""
    body: Json = {"key": b64(start), "range_end": b64(end), "keys_only": True, "limit": "1"}
    return {"request_range": body}


def decode_kv(raw: Json) -> KV:
    return KV(
        unb64(raw["key"]),
        unb64(raw.get("value", "")),
        int(raw.get("create_revision", 0)),
        int(raw.get("mod_revision", 0)),
    )


def get_range(start: bytes, end: bytes, *, keys_only: bool = False, limit: int = 0) -> Json:
    """Keys in [start, end), in key order; at most `limit` (0: all)."""
    body: Json = {"key": b64(start), "range_end": b64(end)}
    if keys_only:
        body["keys_only"] = True
    if limit:
        body["limit"] = str(limit)
    return {"request_range": body}
