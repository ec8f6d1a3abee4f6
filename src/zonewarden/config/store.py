"""The [store] section: where the region's state lives, and how to reach it safely.

Rules kept here: etcd TLS and auth keys go together as etcd needs them; files named
by the config resolve against its directory and must be readable at load time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zonewarden.config.settings import StoreSettings
from zonewarden.config.source import Source
from zonewarden.errors import ConfigError


def parse_store(src: Source, s: Mapping[str, Any], base: Path) -> StoreSettings:
    path = Path(s.get("path", "region.db"))
    check_store_security(src, s)
    files = {k: readable(src, base, k, s[k]) for k in TLS_KEYS if k in s}
    password = s.get("password")
    if "password_file" in s:
        password = readable(src, base, "password_file", s["password_file"]).read_text().strip()
        if not password:
            raise src.error("[store] password_file is empty", "store", None, "password_file")
    return StoreSettings(
        kind=s.get("kind", "sqlite"),
        path=path if path.is_absolute() else base / path,
        endpoints=s.get("endpoints", ()),
        prefix=s.get("prefix", "/zonewarden"),
        synchronous=s.get("synchronous", "NORMAL"),
        username=s.get("username"),
        password=password,
        **files,
    )


TLS_KEYS = ("ca_file", "cert_file", "key_file")


def check_store_security(src: Source, s: Mapping[str, Any]) -> None:
    """The etcd TLS and auth keys go together as etcd needs them; say which to fix."""

    def fail(key: str, message: str) -> ConfigError:
        return src.error(f"[store] {message}", "store", None, key)

    schemes = set()
    for url in s.get("endpoints", ()):
        scheme, sep, host = url.partition("://")
        if not sep or scheme not in ("http", "https") or not host.strip("/"):
            raise fail(
                "endpoints", f"endpoint {url!r} is not http://HOST:PORT or https://HOST:PORT"
            )
        schemes.add(scheme)
    if len(schemes) > 1:
        raise fail("endpoints", "endpoints mix http:// and https://; every member needs the same")
    tls = [k for k in TLS_KEYS if k in s]
    if tls and schemes == {"http"}:
        raise fail(
            tls[0],
            f"{tls[0]} needs https:// endpoints: write them as https://HOST:PORT "
            "(the members serve TLS when started with --cert-file), or remove "
            f"{', '.join(tls)} for a plain-HTTP cluster",
        )
    if ("cert_file" in s) != ("key_file" in s):
        have, missing = ("cert_file", "key_file") if "cert_file" in s else ("key_file", "cert_file")
        raise fail(
            have, f"{have} needs {missing} too: the client certificate and its key go together"
        )
    if "password" in s and "password_file" in s:
        raise fail("password_file", "set password or password_file, not both")
    has_password = "password" in s or "password_file" in s
    if "username" in s and not has_password:
        raise fail("username", "username needs password or password_file")
    if has_password and "username" not in s:
        key = "password" if "password" in s else "password_file"
        raise fail(key, f"{key} needs username (the etcd user it belongs to)")


def readable(src: Source, base: Path, key: str, value: str) -> Path:
    """The file named by `key`, resolved against the config's directory and readable."""
    path = Path(value)
    path = path if path.is_absolute() else base / path
    try:
        with path.open("rb") as f:
            f.read(1)
    except OSError as exc:
        raise src.error(
            f"[store] {key} {path}: {exc.strerror or exc}", "store", None, key
        ) from None
    return path
