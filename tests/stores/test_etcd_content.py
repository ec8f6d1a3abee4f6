"""The etcd store's content-addressed plans: each content stored once, a plan a map of
digests, and clean-up deleting a content only when no kept plan names it, fenced
against a publish that reuses it. Each race is driven to the interleaving that matters
by a hook on the store's commit, and run again with the fence removed (that run must
lose a content a kept plan names)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.helpers import content, draft

from zonewarden.core.model import EndpointName, Generation, PlanDraft
from zonewarden.core.outcomes import Outcome
from zonewarden.errors import StoreCorrupt
from zonewarden.stores.etcd import EtcdStore
from zonewarden.stores.etcd import ops as ec
from zonewarden.stores.etcd.gc import ContentGc
from zonewarden.stores.etcd.keys import dumps, encode_content
from zonewarden.stores.etcd.publish import PlanWrites

pytestmark = pytest.mark.servers

A = EndpointName("a.example.")
B = EndpointName("b.example.")
X, Y, Z, W, S = (content(f"10.0.0.{i}") for i in (1, 2, 3, 4, 9))


def stored(etcd: EtcdStore) -> set[str]:
    k = etcd.keys
    kvs = etcd._read([ec.get(k.blobs, prefix=True, keys_only=True)])[1][0]
    return {k.tail(kv.key, k.blobs) for kv in kvs}


def under(etcd: EtcdStore, prefix: bytes) -> int:
    return len(etcd._read([ec.get(prefix, prefix=True, keys_only=True)])[1][0])


def starts(etcd: EtcdStore, prefix: bytes | None = None) -> set[tuple[int, str]]:
    """(generation, endpoint) of every span start under `prefix` (default: all)."""
    k = etcd.keys
    kvs = etcd._read([ec.get(prefix or k.starts, prefix=True)])[1][0]
    return {(k.start_of(kv.key)[0], n) for kv in kvs for n in etcd._decode_map([kv])}


def another(etcd: EtcdStore) -> EtcdStore:
    return EtcdStore(etcd.client.endpoints, prefix=etcd.keys.prefix)


def publish(etcd: EtcdStore, now: float = 0, **endpoints: Any) -> Generation:
    return etcd.publish(draft(**endpoints), source="t", actor="t", now=now).generation


def readable(etcd: EtcdStore, *gens: Generation) -> bool:
    try:
        fresh = another(etcd)  # no cache: read from the store
        try:
            return all(fresh.plan(g) is not None for g in gens)
        finally:
            fresh.close()
    except StoreCorrupt:
        return False


def _puts_one_of(etcd: EtcdStore, op: dict, digests: set[str]) -> bool:
    key = op.get("request_put", {}).get("key")
    return key in {ec.b64(etcd.keys.blob(d)) for d in digests}


def before_first_commit(store: EtcdStore, then: Callable[[], None], monkeypatch) -> None:
    """Run `then` once, just before `store`'s next commit."""
    real = store._commit
    done: list[bool] = []

    def commit(compares, ops):
        if not done:
            done.append(True)
            then()
        return real(compares, ops)

    monkeypatch.setattr(store, "_commit", commit)


def test_each_content_is_stored_once_and_a_plan_names_digests(etcd):
    many = {EndpointName(f"e{i:03d}.example."): content(f"10.0.1.{i % 10}") for i in range(100)}
    g1 = etcd.publish(PlanDraft(many), source="t", actor="t", now=0).generation
    changed = {**many, EndpointName("e000.example."): content("10.0.2.1")}
    g2 = etcd.publish(PlanDraft(changed), source="t", actor="t", now=1).generation
    assert len(stored(etcd)) == 11  # 10 shared contents + the one changed
    assert starts(etcd, etcd.keys.starts_from(g2)) == {(g2, "e000.example.")}  # one change
    assert etcd.contents(g1) == many and etcd.contents(g2) == changed
    fresh = another(etcd)  # nothing cached: every content read from the store
    assert fresh.plan(g2).digest == PlanDraft(changed).digest
    fresh.close()
    assert etcd.content_problems() == []


def test_clean_up_deletes_a_content_only_when_no_kept_plan_names_it(etcd):
    g1 = publish(etcd, a=X, b=S)
    g2 = publish(etcd, a=Y, b=S)
    g3 = publish(etcd, a=X, b=S)  # X again: a new span of the same content
    etcd.delete_unreferenced([g1], actor="c", now=1)
    assert stored(etcd) == {X.digest, Y.digest, S.digest} and readable(etcd, g2, g3)
    etcd.delete_unreferenced([g2], actor="c", now=2)
    assert stored(etcd) == {X.digest, S.digest} and readable(etcd, g3)
    g4 = publish(etcd, a=Z, b=S)
    etcd.delete_unreferenced([g3], actor="c", now=3)
    assert stored(etcd) == {Z.digest, S.digest} and readable(etcd, g4)
    assert under(etcd, etcd.keys.gc_queue) == 0 and etcd.content_problems() == []
    assert starts(etcd) == {(g4, A), (g1, B)}  # b's span from plan 1 is still live


def test_a_live_endpoint_keeps_its_plan_and_so_its_contents(etcd):
    g1 = publish(etcd, a=X)
    etcd.apply_if_newer(g1, [A], actor="e", now=1)
    g2 = publish(etcd, a=Y)
    assert etcd.delete_unreferenced([g1], actor="c", now=2).kept_referenced == (g1,)
    assert X.digest in stored(etcd) and readable(etcd, g1, g2)


def test_a_content_shared_by_more_endpoints_than_one_txn_holds_goes_when_dead(etcd):
    many = [EndpointName(f"e{i:03d}.example.") for i in range(200)]
    g1 = etcd.publish(PlanDraft(dict.fromkeys(many, X)), source="t", actor="t", now=0).generation
    g2 = etcd.publish(PlanDraft(dict.fromkeys(many, Y)), source="t", actor="t", now=1).generation
    etcd.delete_unreferenced([g1], actor="c", now=2)
    assert stored(etcd) == {Y.digest} and readable(etcd, g2)
    assert under(etcd, etcd.keys.refs(X.digest)) == 0


@pytest.mark.parametrize("fenced", [True, False])
def test_a_publish_reusing_a_content_that_clean_up_deletes_writes_it_again(
    etcd, monkeypatch, fenced
):
    """X is stored when the publish builds its Txn; before the Txn commits, clean-up
    deletes the last plan naming X, and X with it. The publish puts X again in the Txn
    that writes its span start, so the plan is whole. A publish that skipped a content
    it saw stored names a content that is gone."""
    other = another(etcd)
    g1 = publish(etcd, a=X)
    publish(etcd, a=Y)
    if not fenced:  # the tempting shortcut: skip a content the store already holds
        real = PlanWrites._start_ops

        def start_ops(self, g, chunk):
            stored = {c.digest for _, c in chunk if under(self, self.keys.blob(c.digest))}
            return [op for op in real(self, g, chunk) if not _puts_one_of(self, op, stored)]

        monkeypatch.setattr(PlanWrites, "_start_ops", start_ops)
    before_first_commit(
        etcd, lambda: other.delete_unreferenced([g1], actor="c", now=1), monkeypatch
    )
    g3 = publish(etcd, a=X)
    assert readable(etcd, g3) is fenced
    assert (etcd.content_problems() == []) is fenced
    other.close()


@pytest.mark.parametrize("fenced", [True, False])
def test_clean_up_keeps_a_content_a_publish_reused_after_it_looked(etcd, monkeypatch, fenced):
    """Clean-up found every ref key of X dead; before its delete commits, a publish
    names X again (X still exists, so the publish's own compare holds). The delete's
    compare that X's ref keys are unchanged fails, and X stays. Without it X goes."""
    other = another(etcd)
    g1 = publish(etcd, a=X)
    publish(etcd, a=Y)
    made: list[Generation] = []
    real_txn = ContentGc._content_txn

    def content_txn(self, batch, rev):
        if not made:
            made.append(publish(other, now=2, a=X))
        compares, ops = real_txn(self, batch, rev)
        return (compares if fenced else []), ops

    monkeypatch.setattr(ContentGc, "_content_txn", content_txn)
    etcd.delete_unreferenced([g1], actor="c", now=1)
    assert readable(etcd, made[0]) is fenced
    assert (X.digest in stored(etcd)) is fenced
    other.close()


@pytest.mark.parametrize("fenced", [True, False])
def test_a_chunked_publish_whose_predecessor_changed_starts_its_spans_again(
    etcd, monkeypatch, fenced
):
    """Plan 3 (chunked) computed its spans against plan 1 (a = X); before its header,
    plan 2 (a = Y, reserved earlier) becomes visible. Plan 3's header compares
    `meta/head`, fails, and starts a span for a (X again after Y). Without that compare
    plan 3 relies on plan 1's span, which plan 2 ended: deleting plan 1 takes X."""
    many = {EndpointName(f"e{i:03d}.example."): S for i in range(150)}
    slow, fast = another(etcd), another(etcd)
    g1 = etcd.publish(PlanDraft({**many, A: X}), source="t", actor="t", now=0).generation
    if not fenced:
        real_pred = PlanWrites._predecessor

        def predecessor(self, head, newest, rev):
            compares, prev = real_pred(self, head, newest, rev)
            return [c for c in compares if c["key"] != ec.b64(self.keys.head)], prev

        monkeypatch.setattr(PlanWrites, "_predecessor", predecessor)
    order: list[str] = []

    def run_plan_2() -> None:
        order.append("plan 2")
        second = {**dict.fromkeys(many, W), A: Y}  # chunked too, so it takes generation 2
        fast.publish(PlanDraft(second), source="t", actor="t", now=1)

    real_write = slow._write_starts

    def write_starts(g, starts, written):
        real_write(g, starts, written)
        if not order:
            run_plan_2()

    # generation 2 is reserved for fast and 3 for slow; fast publishes plan 2 whole
    # after slow wrote plan 3's map and spans, before slow's header
    g2 = Generation(g1 + 1)
    slow_g = _reserve_after(slow, g2)
    monkeypatch.setattr(slow, "_reserve", lambda min_generation: slow_g)
    monkeypatch.setattr(slow, "_write_starts", write_starts)
    monkeypatch.setattr(fast, "_reserve", lambda min_generation: g2)
    third = {**dict.fromkeys(many, Z), A: X}  # 150 new spans: a chunked publish
    g3 = slow.publish(PlanDraft(third), source="t", actor="t", now=2).generation
    assert (g1, g2, g3) == (1, 2, 3) and order == ["plan 2"]
    etcd.delete_unreferenced([g1], actor="c", now=3)
    assert readable(etcd, g2, g3) is fenced
    slow.close()
    fast.close()


def _reserve_after(store: EtcdStore, g: Generation) -> Generation:
    """Move the counter past g (g stays for the other publisher) and take g + 1."""
    k = store.keys
    store._commit([], [ec.put(k.next_gen, str(g + 2).encode())])
    return Generation(g + 1)


def test_a_schema_2_prefix_is_read_then_its_plans_age_out(etcd):
    """Schema 2 kept each plan's full contents under pe/<gen>/<name>: such a prefix is
    marked 3 at open, its plans read and applied as before, the next plan starts every
    span, and clean-up deletes the old plan whole."""
    k = etcd.keys
    old = Generation(7)
    header = {"digest": draft(a=X, b=S).digest, "created_at": 0, "source": "t", "count": 2}
    etcd.client.txn(
        [],
        [
            ec.put(k.schema, b"2"),
            ec.put(k.next_gen, b"8"),
            ec.put(k.plan(old), dumps(header)),
            ec.put(k.plan_endpoint(old, A), encode_content(X)),
            ec.put(k.plan_endpoint(old, B), encode_content(S)),
        ],
    )
    reopened = another(etcd)
    assert etcd.client.read([ec.get(k.schema)]).ranges[0][0].value == b"3"
    assert reopened.contents(old) == {A: X, B: S} and reopened.plan_names(old) == (A, B)
    assert reopened.index().newest_names == (A, B)
    applied = reopened.apply_if_newer(old, [A, B], actor="e", now=1)
    assert set(applied.values()) == {Outcome.APPLIED}
    new = publish(reopened, now=2, a=Y, b=S)
    assert starts(reopened, k.starts_from(new)) == {(new, A), (new, B)}  # nothing relied on
    # a schema-2 plan
    reopened.apply_if_newer(new, [A, B], actor="e", now=3)
    assert reopened.delete_unreferenced([old], actor="c", now=4).deleted == (old,)
    assert under(reopened, k.plan_endpoints(old)) == 0 and readable(reopened, new)
    assert stored(reopened) == {Y.digest, S.digest} and reopened.content_problems() == []
    reopened.close()


def test_store_check_on_etcd_finds_a_plan_whose_content_is_gone(etcd, tmp_path):
    from click.testing import CliRunner

    from zonewarden.cli.main import cli
    from zonewarden.config import demo_toml

    sqlite_section = '[store]\nkind = "sqlite"\npath = "region.db"'
    etcd_section = (
        '[store]\nkind = "etcd"\nendpoints = ["' + '", "'.join(etcd.client.endpoints) + '"]\n'
        f'prefix = "{etcd.keys.prefix}"'
    )
    cfg = tmp_path / "zw.toml"
    cfg.write_text(demo_toml().replace(sqlite_section, etcd_section))
    g = publish(etcd, a=X, b=S)
    sound = CliRunner().invoke(cli, ["store", "check", "--config", str(cfg), "--json"])
    assert sound.exit_code == 0 and '"ok": true' in sound.output, sound.output
    etcd.client.txn([], [ec.delete(etcd.keys.blob(X.digest))])  # what the fences prevent
    broken = CliRunner().invoke(cli, ["store", "check", "--config", str(cfg)])
    assert broken.exit_code == 3
    assert f"plan {g} names content {X.digest}, which is not stored" in broken.output
