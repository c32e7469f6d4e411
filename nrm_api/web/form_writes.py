"""The web form's signed writes on forms: signed for the person with their agency's hosted key.

Each write names the API operation it is (``POST /api/v1/forms``, ``PUT /api/v1/forms/ID`` …), is
signed for it by ``accounts.hosted.sign_for_user`` (``signed.signed_write``) and goes to the same
service function as the API's, which verifies the signature as it verifies an agency system's: one
signature means one operation, whichever door carried it.
"""

from __future__ import annotations

from typing import Any

from ..audit.actor import Actor
from ..forms import decisions, service
from ..forms.document import SCHEMA_VERSION
from ..preconditions import etag
from ..writes import Written
from .signed import signed_write

FORMS_PATH = "/api/v1/forms"

__all__ = ["SCHEMA_VERSION", "amend", "decide", "submit", "withdraw_consent"]


def submit(actor: Actor, draft_id: str, document: dict[str, Any]) -> Written:
    """Submit a draft as a new form; the draft's id is the ``Idempotency-Key``, so submitting twice is one form."""
    return signed_write(actor, "POST", FORMS_PATH, document, lambda signature, facts: service.submit(
        actor, document, signature, facts), idempotency_key=f"draft:{draft_id}")


def amend(actor: Actor, form_id: str, revision: int, document: dict[str, Any]) -> Written:
    """A new version of the form, made from the form at ``revision`` (412 if it changed since)."""
    return signed_write(actor, "PUT", f"{FORMS_PATH}/{form_id}", document, lambda signature, facts: service.update(
        actor, form_id, document, signature, etag(revision), facts))


def decide(actor: Actor, form_id: str, revision: int, decision: dict[str, Any]) -> Written:
    """Record the authority's identification decision on the form at ``revision``."""
    path = f"{FORMS_PATH}/{form_id}/decision"
    return signed_write(actor, "POST", path, decision, lambda signature, facts: decisions.decide(
        actor, form_id, decision, signature, etag(revision), facts))


def withdraw_consent(actor: Actor, form_id: str, withdrawal: dict[str, Any]) -> Written:
    """Record that the person withdrew consent (the form's open referrals end with it)."""
    path = f"{FORMS_PATH}/{form_id}/consent-withdrawal"
    return signed_write(actor, "POST", path, withdrawal, lambda signature, facts: decisions.withdraw_consent(
        actor, form_id, withdrawal, signature, facts))
