"""The web form's signed writes on referrals: signed for the person with their agency's hosted key.

Each write names the API operation it is (``POST /api/v1/referrals``, ``POST /api/v1/referrals/ID/status``),
is signed for it by ``accounts.hosted.sign_for_user`` (``signed.signed_write``) and goes to the same
service function as the API's, which verifies the signature and applies every rule: the pages hold
none of their own.
"""

from __future__ import annotations

from typing import Any

from ..audit.actor import Actor
from ..preconditions import etag
from ..referrals import service
from ..writes import Written
from .signed import signed_write

REFERRALS_PATH = "/api/v1/referrals"


def refer(actor: Actor, referral: dict[str, Any], idempotency_key: str) -> Written:
    """Refer a form; ``idempotency_key`` comes with the page, so sending it twice is one referral."""
    return signed_write(actor, "POST", REFERRALS_PATH, referral, lambda signature, facts: service.create(
        actor, referral, signature, facts), idempotency_key=f"web-refer:{idempotency_key}")


def move(actor: Actor, referral_id: str, revision: int, change: dict[str, Any]) -> Written:
    """Move the referral at ``revision`` to a new status (412 if it changed since the page was drawn)."""
    path = f"{REFERRALS_PATH}/{referral_id}/status"
    return signed_write(actor, "POST", path, change, lambda signature, facts: service.change_status(
        actor, referral_id, change, signature, etag(revision), facts))
