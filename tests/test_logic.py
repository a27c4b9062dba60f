"""Kleene three-valued logic: every cell of the truth tables."""

from __future__ import annotations

import itertools

import pytest

from medpolicy.logic import Truth, all_of, any_of, not_

M, N, U = Truth.met, Truth.not_met, Truth.unknown

AND = {
    (M, M): M,
    (M, N): N,
    (M, U): U,
    (N, M): N,
    (N, N): N,
    (N, U): N,
    (U, M): U,
    (U, N): N,
    (U, U): U,
}
OR = {
    (M, M): M,
    (M, N): M,
    (M, U): M,
    (N, M): M,
    (N, N): N,
    (N, U): U,
    (U, M): M,
    (U, N): U,
    (U, U): U,
}


@pytest.mark.parametrize(("a", "b"), list(AND))
def test_all_of_cell(a: Truth, b: Truth) -> None:
    assert all_of([a, b]) is AND[(a, b)]


@pytest.mark.parametrize(("a", "b"), list(OR))
def test_any_of_cell(a: Truth, b: Truth) -> None:
    assert any_of([a, b]) is OR[(a, b)]


@pytest.mark.parametrize(("a", "expected"), [(M, N), (N, M), (U, U)])
def test_not_cell(a: Truth, expected: Truth) -> None:
    assert not_(a) is expected


def test_empty_all_is_met_and_empty_any_is_not_met() -> None:
    assert all_of([]) is M
    assert any_of([]) is N


@pytest.mark.parametrize("values", list(itertools.product([M, N, U], repeat=3)))
def test_n_ary_folds_agree_with_binary_tables(values: tuple[Truth, Truth, Truth]) -> None:
    a, b, c = values
    assert all_of(values) is AND[(AND[(a, b)], c)]
    assert any_of(values) is OR[(OR[(a, b)], c)]
    # De Morgan holds in Kleene logic.
    assert not_(all_of(values)) is any_of(not_(v) for v in values)


def test_unknown_is_never_met() -> None:
    assert Truth.of(None) is U
    assert all_of([U]) is not M
    assert any_of([U, N]) is not M
