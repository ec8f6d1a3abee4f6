"""The etcd store over TLS with a client certificate and etcd authentication, against a
real member (tests/stores/etcd_tls.py). The contract suite runs over it too (the
`etcd-tls` param of the `store` fixture); this file has what only TLS and auth have:
every refusal is a ConfigError saying what to fix, and a token etcd dropped is renewed
without the caller noticing."""

from __future__ import annotations

import threading
import time

import pytest
from tests.helpers import content, draft
from tests.stores.etcd_cluster import shared_cluster
from tests.stores.etcd_tls import PASSWORD, TOKEN_TTL, USER

from zonewarden.config import demo_toml, load
from zonewarden.core.model import EndpointName
from zonewarden.core.outcomes import Outcome
from zonewarden.errors import ConfigError
from zonewarden.runtime.openers import open_store
from zonewarden.stores.etcd import EtcdStore, Security
from zonewarden.stores.etcd.client import EtcdClient

pytestmark = pytest.mark.servers

A = EndpointName("a.example.")


def publish(store, address: str) -> int:
    return store.publish(draft(a=content(address)), source="t", actor="t", now=0).generation


def test_fenced_writes_and_watches_work_over_tls_with_auth(tls_etcd):
    s = tls_etcd.store()
    g1, g2 = publish(s, "10.0.0.1"), publish(s, "10.0.0.2")
    version, _ = s.changed_since(0)
    woke: list[int] = []
    watcher = threading.Thread(target=lambda: woke.append(s.watch_zone(version, 5.0)))
    watcher.start()
    time.sleep(0.2)
    assert s.apply_if_newer(g2, [A], actor="e2", now=1) == {A: Outcome.APPLIED}
    watcher.join(6)
    assert s.apply_if_newer(g1, [A], actor="e1", now=2) == {A: Outcome.FENCED_OUT}
    new_version, changed = s.changed_since(version)
    assert woke == [new_version] and set(changed) == {A}
    s.close()


def test_an_invalid_token_is_renewed_and_the_request_resent(tls_etcd):
    s = tls_etcd.store()
    g = publish(s, "10.0.0.1")
    s.client._token = "forged.1"  # what etcd answers for a token it never issued or dropped
    assert s.apply_if_newer(g, [A], actor="e", now=1) == {A: Outcome.APPLIED}
    assert s.client._token not in ("forged.1", "", None)
    version, _ = s.changed_since(0)
    s.client._token = "forged.1"  # a watch renews its token too
    assert s.watch_zone(version - 1, 2.0) == version
    s.close()


def test_a_token_expired_by_disuse_is_renewed(tls_etcd):
    s = tls_etcd.store()
    publish(s, "10.0.0.1")
    old = s.client._token
    time.sleep(TOKEN_TTL + 1.5)  # etcd drops a simple token unused for --auth-token-ttl
    assert publish(s, "10.0.0.2") == 2
    assert s.client._token != old
    s.close()


def test_a_wrong_password_says_which_settings_to_fix(tls_etcd):
    with pytest.raises(ConfigError, match=r"refused user 'zonewarden'.*fix \[store\] username"):
        tls_etcd.store(password="not-the-password")


def test_no_credentials_on_an_auth_cluster_says_to_set_them(tls_etcd):
    with pytest.raises(ConfigError, match=r"authentication enabled.*set \[store\] username"):
        tls_etcd.store(username=None, password=None)


def test_a_prefix_outside_the_users_permission_says_what_to_grant(tls_etcd):
    with pytest.raises(ConfigError, match=r"denied .* to user 'zonewarden'.*grant-permission"):
        tls_etcd.store(prefix="/not-granted")


def test_an_unknown_ca_names_the_endpoint_and_the_ca_file(tls_etcd):
    with pytest.raises(ConfigError) as info:
        tls_etcd.store(ca_file=tls_etcd.pki.other_ca)
    message = str(info.value)
    assert tls_etcd.endpoints[0] in message and "not trusted by" in message
    assert str(tls_etcd.pki.other_ca) in message and "set [store] ca_file" in message


def test_a_host_not_in_the_certificate_is_named(tls_etcd):
    url = tls_etcd.endpoints[0].replace("127.0.0.1", "localhost")
    with pytest.raises(ConfigError, match=r"does not name this host.*SANs"):
        EtcdStore([url], prefix="/zw-tls/x", security=tls_etcd.security())


def test_a_missing_client_certificate_says_to_set_one(tls_etcd):
    with pytest.raises(ConfigError) as info:
        tls_etcd.store(cert_file=None, key_file=None)
    message = str(info.value)
    assert tls_etcd.endpoints[0] in message and "client certificate" in message
    assert "set [store] cert_file and key_file" in message


def test_a_client_certificate_with_a_common_name_is_explained(tls_etcd):
    pki = tls_etcd.pki
    with pytest.raises(ConfigError, match=r"has a Common Name.*empty subject"):
        tls_etcd.store(cert_file=pki.cn_client_cert, key_file=pki.cn_client_key)


def test_tls_files_with_http_endpoints_are_refused(tls_etcd):
    http = [tls_etcd.endpoints[0].replace("https://", "http://")]
    with pytest.raises(ConfigError, match="need https:// endpoints"):
        EtcdClient(http, security=Security(ca_file=tls_etcd.pki.ca))


def test_config_opens_a_tls_store_with_a_password_file(tmp_path, tls_etcd):
    pki = tls_etcd.pki
    (tmp_path / "etcd.password").write_text(PASSWORD + "\n")
    section = (
        '[store]\nkind = "etcd"\n'
        f'endpoints = ["{tls_etcd.endpoints[0]}"]\nprefix = "/zw-tls/from-config"\n'
        f'ca_file = "{pki.ca}"\ncert_file = "{pki.client_cert}"\n'
        f'key_file = "{pki.client_key}"\nusername = "{USER}"\npassword_file = "etcd.password"'
    )
    cfg = tmp_path / "zw.toml"
    cfg.write_text(demo_toml().replace('[store]\nkind = "sqlite"\npath = "region.db"', section))
    store = open_store(load(cfg))
    assert isinstance(store, EtcdStore) and store.newest() == 0
    store.close()


def test_https_to_a_plain_http_member_says_it_does_not_speak_tls():
    url = shared_cluster().endpoints[0].replace("http://", "https://")
    with pytest.raises(ConfigError, match=r"closed the connection in the handshake.*http://"):
        EtcdClient([url]).call("/v3/kv/range", {"key": "eA=="}, idempotent=True)
