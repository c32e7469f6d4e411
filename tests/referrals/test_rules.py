"""The referral state machine as pure rules, without Flask: random walks checked against the contract's table.

The oracle is ``docs/contract.md``'s table (what agency systems are written against), read here on its
own, so a change to ``rules.TRANSITIONS`` that the contract does not make fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from nrm_api.referrals import rules

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
SIDES = (rules.SENDER, rules.RECIPIENT)


@dataclass(frozen=True)
class Move:
    """What the contract says of one (from, to) pair."""

    by: str
    reason_required: bool


def _contract() -> tuple[dict[tuple[str, str], Move], frozenset[str]]:
    """The contract's moves by (from, to), and its final statuses."""
    text = CONTRACT.read_text(encoding="utf-8")
    table = text.split("| from | to | by | reason |", 1)[1].split("\n\n", 1)[0]
    moves: dict[tuple[str, str], Move] = {}
    for line in table.strip().splitlines()[1:]:
        sources, target, by, reason = (cell.strip() for cell in line.strip().strip("|").split("|"))
        if set(sources) <= {"-", " "}:
            continue  # the header's rule
        for source in re.findall(r"`([a-z-]+)`", sources):
            moves[(source, target.strip("`"))] = Move(by, reason == "required")
    final_line = next(line for line in text.splitlines() if "are final" in line)
    return moves, frozenset(re.findall(r"`([a-z-]+)`", final_line.split("are final")[0]))


MOVES, FINAL = _contract()
REASONS = st.one_of(st.none(), st.just(""), st.just("  \t"), st.text(min_size=1, max_size=20))


def expected_refusal(current: str, target: str, side: str, reason: str | None) -> type[Exception] | None:
    """The refusal the contract gives this move (409, 403, 422 in that order), or None when it is allowed."""
    move = MOVES.get((current, target))
    if move is None:
        return rules.IllegalTransition
    if move.by != side:
        return rules.WrongSide
    if move.reason_required and not (reason or "").strip():
        return rules.ReasonRequired
    return None


def attempt(current: str, target: str, side: str, reason: str | None) -> str:
    """Ask the rules for a move, check it against the contract, and return the status after it."""
    refusal = expected_refusal(current, target, side, reason)
    if refusal is not None:
        with pytest.raises(refusal):
            rules.transition(current, target, side, reason)
        return current
    row = rules.transition(current, target, side, reason)
    assert (row.target, row.by, current in row.sources) == (target, side, True)
    return target


class ReferralWalk(RuleBasedStateMachine):
    """One referral, moved at random by either side with or without a reason."""

    def __init__(self) -> None:
        super().__init__()
        self.status = "requested"
        self.path = ["requested"]

    @rule(to=st.sampled_from(rules.STATUSES), side=st.sampled_from(SIDES), reason=REASONS)
    def move(self, to: str, side: str, reason: str | None) -> None:
        after = attempt(self.status, to, side, reason)
        if after != self.status:
            self.status = after
            self.path.append(after)

    @invariant()
    def only_the_contracts_moves_were_made(self) -> None:
        assert self.status in rules.STATUSES
        assert all((a, b) in MOVES for a, b in zip(self.path, self.path[1:], strict=False))

    @invariant()
    def a_final_status_is_final(self) -> None:
        assert (self.status in rules.FINAL) == (self.status in FINAL)
        if self.status in FINAL:
            for target in rules.STATUSES:
                for side in SIDES:
                    with pytest.raises(rules.IllegalTransition):
                        rules.transition(self.status, target, side, "a reason")
        assert not any(status in FINAL for status in self.path[:-1]), "a walk went on from a final status"


TestReferralWalk = ReferralWalk.TestCase
TestReferralWalk.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)


@given(st.lists(st.tuples(st.sampled_from(rules.STATUSES), st.sampled_from(SIDES), REASONS), max_size=40))
@settings(deadline=None)
def test_any_sequence_of_requests_follows_the_table(steps: list[tuple[str, str, str | None]]) -> None:
    status = "requested"
    for target, side, reason in steps:
        before, status = status, attempt(status, target, side, reason)
        if before in FINAL:
            assert status == before


def test_the_rules_have_exactly_the_contracts_moves() -> None:
    pairs = {(source, row.target): Move(row.by, row.reason_required) for row in rules.TRANSITIONS
             for source in row.sources}
    assert pairs == MOVES
    assert rules.FINAL == FINAL and frozenset(rules.STATUSES) - FINAL == rules.OPEN


def test_every_status_is_reachable_and_every_open_one_has_a_way_out() -> None:
    reached, frontier = {"requested"}, ["requested"]
    while frontier:
        current = frontier.pop()
        for source, target in MOVES:
            if source == current and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(rules.STATUSES)
    assert {source for source, _ in MOVES} == set(rules.OPEN)
    assert rules.TAKEN_ON <= rules.OPEN
