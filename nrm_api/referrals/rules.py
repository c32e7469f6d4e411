"""The referral's rules as data: statuses (HL7 FHIR Task), who may move which to which, and the codes.

Pure: no Flask, no database. ``referrals.service`` applies them; the OpenAPI document lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..vocabulary import codes

#: FHIR Task status codes a referral uses, in the order they usually come (the vocabulary's ``referral_status``).
STATUSES = tuple(codes("referral_status"))
FINAL = frozenset({"rejected", "completed", "failed", "cancelled"})
OPEN = frozenset(STATUSES) - FINAL
#: The recipient has taken the referral on and it is not over: what a confidential address is shown for.
TAKEN_ON = frozenset({"accepted", "in-progress", "on-hold"})

SENDER, RECIPIENT = "sender", "recipient"


@dataclass(frozen=True)
class Transition:
    """A move the state machine allows: from any of ``sources`` to ``target``, by one side."""

    sources: tuple[str, ...]
    target: str
    by: str
    reason_required: bool


#: The contract's transition table, row for row.
TRANSITIONS: tuple[Transition, ...] = (
    Transition(("requested",), "received", RECIPIENT, False),
    Transition(("requested", "received"), "accepted", RECIPIENT, False),
    Transition(("requested", "received"), "rejected", RECIPIENT, True),
    Transition(("accepted", "on-hold"), "in-progress", RECIPIENT, False),
    Transition(("in-progress",), "on-hold", RECIPIENT, True),
    Transition(("in-progress",), "completed", RECIPIENT, False),
    Transition(("in-progress", "on-hold"), "failed", RECIPIENT, True),
    Transition(("requested", "received", "accepted", "in-progress", "on-hold"), "cancelled", SENDER, True),
)

PURPOSES = ("identification", "assistance")
#: Assistance a referral may ask for (Law 350-З Art. 20 and IOM Belarus's practice).
SERVICES = tuple(codes("service"))
#: How soon the recipient should act.
PRIORITIES = {"emergency": timedelta(hours=24), "urgent": timedelta(hours=72), "normal": timedelta(weeks=2)}
#: Why a user with the right may send a referral the person's consent does not cover. Codes only:
#: the reason is audited, and the audit log holds no free text.
OVERRIDE_REASONS = ("vital_interest", "legal_obligation", "court_order")


class IllegalTransition(Exception):
    """The state machine has no such move from the current status."""


class WrongSide(Exception):
    """The move exists, but the other side of the referral makes it."""


class ReasonRequired(Exception):
    """The move needs a reason."""


def transition(current: str, target: str, side: str, reason: str | None) -> Transition:
    """The transition ``side`` asks for, or why it may not be made."""
    rows = [row for row in TRANSITIONS if row.target == target and current in row.sources]
    if not rows:
        raise IllegalTransition(f"a referral that is {current} cannot become {target}")
    row = rows[0]
    if row.by != side:
        raise WrongSide(f"only the {row.by} makes a referral {target}")
    if row.reason_required and not (reason or "").strip():
        raise ReasonRequired(f"a referral becomes {target} only with a reason")
    return row


def allowed(current: str, side: str) -> list[Transition]:
    """The moves ``side`` may make from ``current`` now, in the table's order: what a door offers."""
    return [row for row in TRANSITIONS if current in row.sources and row.by == side]


def overdue(status: str, due_at: datetime, now: datetime) -> bool:
    """Whether a referral still open is past the time its priority gives the recipient."""
    return status in OPEN and due_at < now


def purpose_errors(purpose: str, services: list[str], recipient_kind: str) -> dict[str, list[str]]:
    """What a referral's purpose, services and recipient break, as field errors."""
    if purpose == "identification":
        errors = {}
        if services:
            errors["services"] = ["an identification referral asks for no services"]
        if recipient_kind != "authority":
            errors["to_agency"] = ["only an authority identifies: refer for identification to the Ministry"]
        return errors
    if not services:
        return {"services": ["an assistance referral names at least one service"]}
    return {}


def status_table() -> list[dict[str, Any]]:
    """The transition table for the OpenAPI document."""
    return [{"from": list(row.sources), "to": row.target, "by": row.by, "reason": row.reason_required}
            for row in TRANSITIONS]


def status_table_markdown() -> str:
    """The transition table as the contract prints it."""
    lines = ["| from | to | by | reason |", "| --- | --- | --- | --- |"]
    for row in TRANSITIONS:
        sources = ", ".join(f"`{source}`" for source in row.sources)
        lines.append(f"| {sources} | `{row.target}` | {row.by} | {'required' if row.reason_required else '—'} |")
    final = ", ".join(f"`{status}`" for status in STATUSES if status in FINAL)
    return "\n".join([*lines, "", f"{final} are final."])
