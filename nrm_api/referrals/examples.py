"""Example referral bodies, written to ``schemas/examples/`` by ``nrm-api openapi write``: each validates.

``referral-*.json`` are ``POST /referrals`` bodies (``ReferralCreate``), ``referral-status-*.json``
``POST /referrals/{id}/status`` bodies (``StatusChange``). Agency ids are the demo network's.
"""

from __future__ import annotations

from typing import Any

#: The form every example refers: any form id your agency may refer stands here.
FORM_ID = "6f1c2b9e-3d4a-4e5f-9a8b-7c6d5e4f3a21"


def identification() -> dict[str, Any]:
    """An NGO asks the Ministry of the Interior to identify the person: no services, an authority."""
    return {"form_id": FORM_ID, "to_agency": "moi", "purpose": "identification", "priority": "urgent",
            "note": "Interviewed at the shelter on 20 November; ready to meet an officer this week."}


def assistance() -> dict[str, Any]:
    """IOM asks a shelter for a bed and counselling tonight."""
    return {"form_id": FORM_ID, "to_agency": "shelter-minsk", "purpose": "assistance",
            "services": ["accommodation", "psychological_counselling"], "priority": "emergency",
            "note": "Arrives tonight by train from Gomel; speaks Russian only."}


def status_accepted() -> dict[str, Any]:
    """The recipient takes the referral on: no reason needed."""
    return {"status": "accepted"}


def status_rejected() -> dict[str, Any]:
    """The recipient declines, with the reason the transition table requires."""
    return {"status": "rejected", "reason": "No places free until next month; IOM has been told."}


def status_cancelled() -> dict[str, Any]:
    """The sender withdraws the referral, with a reason."""
    return {"status": "cancelled", "reason": "The person found accommodation with family."}


#: Which schema each example is a body of, by the start of its name.
SCHEMA_OF_PREFIX = {"referral-status-": "StatusChange", "referral-": "ReferralCreate"}

EXAMPLES = {"referral-identification": identification, "referral-assistance": assistance,
            "referral-status-accepted": status_accepted, "referral-status-rejected": status_rejected,
            "referral-status-cancelled": status_cancelled}
