"""Small-cell suppression, pure: no Flask, no database.

Primary suppression withholds every count below ``k``, a zero too. Secondary suppression then
withholds more, until no withheld count can be worked out from what is shown: from the visible
cells and margins of its own table, and from the grand total every table of one population
shares (so each table's total is taken as known, whatever it shows itself).

A one-way table (a partition of a known total): a withheld cell is determined exactly when it is
the only one withheld, or when the withheld cells add up to 0 (then every one of them is 0). So
at least two are withheld, adding up to at least 1.

A two-way table with its margins: think of it as an (R+1)×(C+1) grid, margins in the last row and
column, the grand total in the corner. Each line says "the cells add up to the margin". With the
margins' signs turned over, every line adds up to zero, and the ways the withheld entries can
change together are the cycles of the bipartite graph they draw between rows and columns,
alternating +t and −t. A change is possible only where every entry it lowers is above 0. So an
entry is undetermined exactly when it lies on such a cycle that may go one way or the other:
a directed cycle, where an entry may be walked row→column if raising it (in the turned-over
sign) keeps every count non-negative, and column→row if lowering it does. ``determined`` looks
for one; ``two_way`` withholds the smallest visible entry beside a determined one until none is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: The lowest ``k`` the service accepts (the configuration refuses one below it).
MINIMUM_K = 5
#: CTDC's threshold, the default.
DEFAULT_K = 11

Entry = tuple[int, int]


def one_way(counts: Mapping[str, int], k: int) -> dict[str, int | None]:
    """Withhold (``None``) the cells of a one-way table below ``k``, and more until none can be worked out."""
    hidden = {key for key, count in counts.items() if count < k}
    while hidden and (len(hidden) < 2 or sum(counts[key] for key in hidden) == 0):
        shown = [key for key in counts if key not in hidden]
        if not shown:
            break
        hidden.add(min(shown, key=lambda key: (counts[key], key)))
    return {key: None if key in hidden else count for key, count in counts.items()}


@dataclass(frozen=True)
class TwoWay:
    """A two-way table as it may be shown: ``None`` for every withheld count."""

    cells: list[list[int | None]]
    rows: list[int | None]
    columns: list[int | None]
    total: int | None


def extended(matrix: Sequence[Sequence[int]]) -> list[list[int]]:
    """The table with its row margins as a last column, column margins as a last row, the total in the corner."""
    grid = [[*row, sum(row)] for row in matrix]
    return [*grid, [sum(column) for column in zip(*grid, strict=True)]]


def two_way(matrix: Sequence[Sequence[int]], k: int) -> TwoWay:
    """Withhold the small counts of a two-way table and its margins, and more until none can be worked out."""
    grid = extended(matrix)
    entries = [(i, j) for i in range(len(grid)) for j in range(len(grid[0]))]
    hidden = {entry for entry in entries if grid[entry[0]][entry[1]] < k}
    while (exposed := next((e for e in sorted(hidden) if determined(grid, hidden, e)), None)) is not None:
        hidden.add(_complement(grid, hidden, exposed))
    shown = [[None if (i, j) in hidden else value for j, value in enumerate(row)] for i, row in enumerate(grid)]
    return TwoWay(cells=[row[:-1] for row in shown[:-1]], rows=[row[-1] for row in shown[:-1]],
                  columns=shown[-1][:-1], total=shown[-1][-1])


def _complement(grid: list[list[int]], hidden: set[Entry], exposed: Entry) -> Entry:
    """The entry to withhold beside ``exposed``: the smallest visible one of its lines, else of the table.

    The grand total comes last: it is the population's total, which other tables show too.
    """
    last = (len(grid) - 1, len(grid[0]) - 1)
    visible = [(i, j) for i in range(len(grid)) for j in range(len(grid[0])) if (i, j) not in hidden]
    beside = [e for e in visible if e != last and (e[0] == exposed[0] or e[1] == exposed[1])]
    anywhere = [e for e in visible if e != last]
    return min(beside or anywhere or visible, key=lambda e: (grid[e[0]][e[1]], e))


def determined(grid: list[list[int]], hidden: set[Entry], entry: Entry) -> bool:
    """Whether the withheld ``entry`` has one value only, given the visible entries and every line's sum."""
    arcs: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for other in hidden - {entry}:
        up, down = _moves(grid, other)
        if up:
            arcs.setdefault(("r", other[0]), set()).add(("c", other[1]))
        if down:
            arcs.setdefault(("c", other[1]), set()).add(("r", other[0]))
    up, down = _moves(grid, entry)
    row, column = ("r", entry[0]), ("c", entry[1])
    return not ((up and _reaches(arcs, column, row)) or (down and _reaches(arcs, row, column)))


def _moves(grid: list[list[int]], entry: Entry) -> tuple[bool, bool]:
    """Whether the entry may take +t, and −t, in the turned-over sign (a margin's is turned over)."""
    i, j = entry
    margin = (i == len(grid) - 1) != (j == len(grid[0]) - 1)
    positive = grid[i][j] > 0
    return (positive, True) if margin else (True, positive)


def _reaches(arcs: dict[tuple[str, int], set[tuple[str, int]]], start: tuple[str, int],
             goal: tuple[str, int]) -> bool:
    seen, frontier = {start}, [start]
    while frontier:
        node = frontier.pop()
        if node == goal:
            return True
        for following in arcs.get(node, ()):
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return False


def median_shown(values: Sequence[float], k: int) -> float | None:
    """The median of ``values``, or ``None`` when fewer than ``k`` went into it."""
    if len(values) < k:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
