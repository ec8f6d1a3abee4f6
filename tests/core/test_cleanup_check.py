"""The reference check at the delete (core.cleanup.deletable), which every store runs on
what it reads inside its delete's transaction. Each store's use of it is checked by the
store contract suite (tests/stores/test_contract.py) and the clean-up race of
tests/core/test_enactor.py; scripts/mutation_check.py removes each comparison here."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from zonewarden.core.cleanup import cleanup_detail, deletable
from zonewarden.core.model import Generation
from zonewarden.core.outcomes import CleanupResult

G = Generation


def test_the_newest_and_referenced_plans_are_kept_and_the_rest_may_go():
    result = deletable([G(1), G(2), G(3), G(5)], {1, 2, 3, 5}, G(5), {2})
    assert result == CleanupResult(deleted=(1, 3), kept_referenced=(2,), kept_newest=(5,))


def test_a_plan_already_gone_is_in_no_list():
    assert deletable([G(1), G(4)], {4, 9}, G(9), set()) == CleanupResult(deleted=(4,))


def test_the_newest_plan_is_kept_even_unreferenced_and_counts_as_newest_only():
    result = deletable([G(7)], {7}, G(7), {7})
    assert result == CleanupResult(kept_newest=(7,))


def test_wanted_twice_or_out_of_order_is_decided_once_in_order():
    result = deletable([G(3), G(1), G(3)], {1, 3}, G(8), set())
    assert result.deleted == (1, 3)


@given(
    wanted=st.lists(st.integers(0, 12), max_size=12),
    present=st.sets(st.integers(0, 12)),
    referenced=st.sets(st.integers(0, 12)),
)
def test_nothing_referenced_or_newest_is_ever_deletable(wanted, present, referenced):
    newest = G(max(present, default=0))
    result = deletable(list(map(G, wanted)), present, newest, referenced)
    assert not set(result.deleted) & (referenced | {newest})
    together = result.deleted + result.kept_referenced + result.kept_newest
    assert sorted(together) == sorted(set(wanted) & present)


def test_the_audit_detail_reads_the_same_from_every_store():
    assert cleanup_detail((G(1), G(3)), [G(2)]) == "deleted [1, 3] kept referenced [2]"
