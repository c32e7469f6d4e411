"""Suppression never lets a withheld count be worked out: proved against every completion of small tables.

The oracle knows nothing of the module's reasoning: it enumerates every table of non-negative
integers that agrees with what is shown (visible cells, visible margins, the known total) and
collects the values each withheld entry takes. One value only is a disclosure.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nrm_api.statistics.suppression import TwoWay, determined, extended, median_shown, one_way, two_way

SMALL = st.integers(min_value=0, max_value=6)


def _compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    if parts == 0:
        if total == 0:
            yield ()
        return
    for first in range(total + 1):
        for rest in _compositions(total - first, parts - 1):
            yield (first, *rest)


def one_way_values(counts: dict[str, int], shown: dict[str, int | None]) -> dict[str, set[int]]:
    """Every value each withheld cell takes over the completions that keep the known total."""
    hidden = [key for key, value in shown.items() if value is None]
    rest = sum(counts.values()) - sum(value for value in shown.values() if value is not None)
    found: dict[str, set[int]] = {key: set() for key in hidden}
    for values in _compositions(rest, len(hidden)):
        for key, value in zip(hidden, values, strict=True):
            found[key].add(value)
    return found


def two_way_values(matrix: list[list[int]], shown: TwoWay, slack: int = 3) -> dict[tuple[int, int], set[int]]:
    """Every value each withheld entry (cell, margin, total) takes over the completions agreeing with ``shown``.

    Row by row: a row whose margin shows splits what its hidden cells must add up to every way; a
    row whose margin is withheld lets each cell range up to its column's visible margin, the
    visible total, or the true total plus ``slack``. Capping can only under-report values, so
    the oracle can only call a safe table unsafe, never the reverse.
    """
    rows, columns = len(matrix), len(matrix[0])
    cap = sum(map(sum, matrix)) + slack if shown.total is None else shown.total
    found: dict[tuple[int, int], set[int]] = {}
    for i, row in enumerate([*shown.cells, shown.columns]):
        found.update({(i, j): set() for j, value in enumerate(row) if value is None})
    found.update({(i, columns): set() for i, value in enumerate(shown.rows) if value is None})
    if shown.total is None:
        found[(rows, columns)] = set()

    def fill(i: int, table: list[list[int]], sums: list[int]) -> None:
        if i == rows:
            full = extended(table)
            if all(value is None or value == full[rows][j] for j, value in enumerate(shown.columns)) and \
                    shown.total in (None, full[rows][columns]):
                for (a, b), seen in found.items():
                    seen.add(full[a][b])
            return
        free = [j for j, value in enumerate(shown.cells[i]) if value is None]
        known = [value or 0 for value in shown.cells[i]]
        for values in _row_values(shown.rows[i], known, free, shown.columns, sums, cap):
            row = list(known)
            for j, value in zip(free, values, strict=True):
                row[j] = value
            added = [a + b for a, b in zip(sums, row, strict=True)]
            if all(limit is None or total <= limit for total, limit in zip(added, shown.columns, strict=True)):
                fill(i + 1, [*table, row], added)

    fill(0, [], [0] * columns)
    return found


def _row_values(margin: int | None, known: list[int], free: list[int], limits: list[int | None], sums: list[int],
                cap: int) -> Iterator[tuple[int, ...]]:
    if margin is not None:
        yield from _compositions(margin - sum(known), len(free))
        return
    ranges = [range((cap if limits[j] is None else limits[j] - sums[j]) + 1) for j in free]  # type: ignore[operator]
    yield from itertools.product(*ranges)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdef"), SMALL, min_size=1), st.integers(min_value=1, max_value=5))
def test_one_way_no_withheld_cell_is_determined(counts: dict[str, int], k: int) -> None:
    shown = one_way(counts, k)
    assert all(value is None for key, value in shown.items() if counts[key] < k)
    assert all(value in (None, counts[key]) for key, value in shown.items())
    if sum(counts.values()) < k:
        return  # the total is withheld too: nothing bounds a withheld cell from above
    for key, values in one_way_values(counts, shown).items():
        assert len(values) > 1, (counts, shown, key)


@st.composite
def small_tables(draw: st.DrawFn) -> list[list[int]]:
    rows = draw(st.integers(min_value=1, max_value=3))
    columns = draw(st.integers(min_value=1, max_value=3 if rows == 1 else 2))
    return [[draw(st.integers(min_value=0, max_value=4)) for _ in range(columns)] for _ in range(rows)]


@settings(max_examples=100, deadline=None)
@given(small_tables(), st.integers(min_value=1, max_value=4))
def test_two_way_no_withheld_entry_is_determined(matrix: list[list[int]], k: int) -> None:
    shown = two_way(matrix, k)
    full = extended(matrix)
    grid = [*[[*cells, margin] for cells, margin in zip(shown.cells, shown.rows, strict=True)],
            [*shown.columns, shown.total]]
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            assert value in (None, full[i][j])
            assert value is None or value >= k
    for entry, values in two_way_values(matrix, shown).items():
        assert len(values) > 1, (matrix, k, shown, entry)


@settings(max_examples=300, deadline=None)
@given(small_tables(), st.integers(min_value=1, max_value=4))
def test_cycle_rule_agrees_with_enumeration(matrix: list[list[int]], k: int) -> None:
    """``determined`` is exact, for any pattern of withheld entries, not only the ones ``two_way`` makes."""
    full = extended(matrix)
    entries = [(i, j) for i in range(len(full)) for j in range(len(full[0]))]
    hidden = {e for e in entries if full[e[0]][e[1]] < k}
    if not hidden or len(hidden) > 5:
        return
    shown = [[None if (i, j) in hidden else full[i][j] for j in range(len(full[0]))] for i in range(len(full))]
    pattern = TwoWay(cells=[row[:-1] for row in shown[:-1]], rows=[row[-1] for row in shown[:-1]],
                     columns=shown[-1][:-1], total=shown[-1][-1])
    values = two_way_values(matrix, pattern)
    for entry in hidden:
        assert determined(full, hidden, entry) == (len(values[entry]) == 1), (matrix, k, entry, values[entry])


def test_a_single_small_cell_takes_the_next_smallest_with_it() -> None:
    assert one_way({"Feminine": 40, "Masculine": 25, "NonSpecifiedUnknown": 3}, 11) == {
        "Feminine": 40, "Masculine": None, "NonSpecifiedUnknown": None}


def test_withheld_zeros_take_a_count_with_them() -> None:
    """Two withheld zeros beside a known total would both be known to be 0."""
    shown = one_way({"a": 30, "b": 0, "c": 0, "d": 20}, 11)
    assert shown == {"a": 30, "b": None, "c": None, "d": None}


def test_nothing_small_nothing_withheld() -> None:
    assert one_way({"a": 11, "b": 12}, 11) == {"a": 11, "b": 12}
    assert two_way([[20, 30], [40, 50]], 11) == TwoWay([[20, 30], [40, 50]], [50, 90], [60, 80], 140)


def test_a_small_cell_of_a_two_way_table_is_covered_in_its_row_and_column() -> None:
    shown = two_way([[30, 3, 40], [25, 35, 45]], 11)
    assert shown.cells[0][1] is None
    assert sum(value is None for value in shown.cells[0]) >= 2
    assert sum(value is None for value in (row[1] for row in shown.cells)) >= 2
    assert shown.total == 178


def test_a_bridge_between_two_cycles_is_determined() -> None:
    """Every line with two withheld entries is not enough: an entry joining two cycles is still known."""
    grid = extended([[5, 5, 9, 9], [5, 5, 9, 9], [9, 9, 5, 5], [9, 9, 5, 5]])
    hidden = {(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)}
    assert determined(grid, hidden, (1, 2))
    assert not determined(grid, hidden, (0, 0))


@pytest.mark.parametrize(("values", "k", "median"), [
    ([], 1, None), ([3.0] * 4, 5, None), ([1.0, 2.0, 3.0, 10.0, 20.0], 5, 3.0), ([1.0, 2.0, 3.0, 4.0], 4, 2.5)])
def test_a_median_over_fewer_than_k_is_withheld(values: list[float], k: int, median: float | None) -> None:
    assert median_shown(values, k) == median
