"""Signed writes: the caller's detached JWS over the canonical body, by a key of its own agency."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select

from ..audit import service as audit
from ..audit.actor import Actor
from ..crypto import TokenError
from ..crypto.jws import verify_detached
from ..database import utcnow
from ..errors import Problem
from ..extensions import db
from .models import Client, ClientKey


@dataclass(frozen=True)
class WriteSignature:
    """A verified signature, to store beside what it signs."""

    value: str
    kid: str


def verify_write(actor: Actor, signature: str | None, payload: bytes, action: StrEnum, resource: str) -> WriteSignature:
    """Verify ``X-JWS-Signature`` over ``payload``; audit and answer 401 naming what is wrong."""
    try:
        header = verify_detached(signature, payload, lambda kid: _agency_key(actor, kid))
    except TokenError as error:
        audit.record_refusal(actor, action, reason=f"signature_{error.code}", resource=resource)
        raise Problem(401, f"signature-{error.code.replace('_', '-')}", "Signature refused", error.message) from None
    return WriteSignature(str(signature), str(header["kid"]))


def _agency_key(actor: Actor, kid: str) -> dict[str, str] | None:
    """A usable key of a client of the actor's own agency: another agency's key is no key at all."""
    key = db.session.scalar(select(ClientKey).join(Client, Client.id == ClientKey.client_id).where(
        ClientKey.kid == kid, Client.agency_id == actor.agency, Client.disabled_at.is_(None)))
    if key is None or not key.usable_at(utcnow()):
        return None
    return dict(key.jwk)


def key_of(kid: str) -> dict[str, str] | None:
    """Any key ever registered, revoked or expired ones included: to re-verify stored signatures."""
    key = db.session.scalar(select(ClientKey).where(ClientKey.kid == kid))
    return dict(key.jwk) if key else None
