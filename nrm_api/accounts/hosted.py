"""Hosted signing keys: each agency's Ed25519 key that signs its people's writes made in the browser.

The private half lives in the keyring (``crypto.hosted``: the key file, or the PKCS#11 token); the
public half is registered as the key of a per-agency client ``hosted:<agency>``, so every path that
verifies an agency system's key — a write now (``signing._agency_key``), a stored signature years
later (``signing.key_of``) — verifies a hosted one the same way. That client never gets a token:
no one outside the keyring holds its private key.

A hosted signature names its user in the protected header (``nrm_user: "user:NAME"``); the service
accepts it only from that user (``check_signer``). Rotation adds a key, revokes the old ones (their
public JWKs stay, so what they signed still verifies) and destroys the old private halves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..agencies.service import require_agency
from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..crypto import TokenError
from ..crypto.hosted import USER_HEADER, is_hosted_kid, sign_detached_hosted
from ..database import utcnow
from ..errors import Forbidden, InvalidError
from ..extensions import db, keyring
from ..writes import canonical_body
from .models import Client, ClientKey

CLIENT_PREFIX = "hosted:"
MAX_CLIENT_ID = 64


def client_id_of(agency_id: str) -> str:
    """The id of the client row that holds the agency's hosted public keys (no registered client has ``:``)."""
    return f"{CLIENT_PREFIX}{agency_id}"


def sign_for_user(actor: Actor, method: str, path: str, document: Any) -> str:
    """Sign ``document`` for the person ``actor`` with their agency's hosted key: the web door's signer.

    Returns the detached JWS (``header..signature``) an agency system would send in ``X-JWS-Signature``
    for the request ``method path`` (the API's path, e.g. ``POST /api/v1/forms``): over the RFC 8785
    canonical form of ``document``, protected header ``{alg: Ed25519, kid, typ: nrm+jws, iat, htm,
    htu, jti}`` plus ``nrm_user: actor.subject``. Pass it, with the same document and
    ``writes.RequestFacts(method, path, idempotency_key)``, to the service function
    (``forms.service.submit(actor, document, signature, facts)`` …): the service verifies it like any
    agency signature and accepts it only from this user. Sign once per write: the ``jti`` is used up
    (a retry under the same ``Idempotency-Key`` may carry it again).

    ``actor`` must be a person (``user:NAME``) of an agency. The agency's key is created on first use
    (audited as this user's act). Raises ``Forbidden`` for any other principal, and ``NotCanonical``
    for a document that has no canonical form (the service would refuse it the same way).
    """
    if not actor.subject.startswith("user:") or not actor.agency:
        raise Forbidden("only a person of an agency signs with the agency's hosted key", reason="not_a_person")
    payload = canonical_body(document)
    client = db.session.get(Client, client_id_of(actor.agency))
    if client is not None and client.disabled_at is not None:
        raise Forbidden("the agency's hosted signing key is disabled", reason="hosted_key_disabled")
    kid = current_kid(actor.agency)
    if kid is None:
        try:
            kid = rotate(actor, actor.agency)
        except IntegrityError:  # another request created the agency's first key at the same moment
            kid = current_kid(actor.agency)
    if kid is None:
        raise Forbidden("the agency has no usable hosted signing key", reason="hosted_key_missing")
    return sign_detached_hosted(keyring().hosted, kid, payload, method, path, actor.subject)


def check_signer(actor: Actor, header: Mapping[str, Any]) -> None:
    """Refuse a hosted signature unless it names ``actor``, and a user header on any other key.

    A hosted signature made for user A is no good to user B, nor to an agency system of the same agency.
    """
    named = header.get(USER_HEADER)
    if is_hosted_kid(header.get("kid")):
        if named != actor.subject:
            raise TokenError("hosted_user_mismatch", "this hosted-key signature was made for another user")
    elif named is not None:
        raise TokenError("user_header_not_hosted", f"only a hosted key's signature carries {USER_HEADER}")


def current_kid(agency_id: str) -> str | None:
    """The kid of the agency's usable hosted key whose private half this keyring holds, if any."""
    now = utcnow()
    keys = db.session.scalars(select(ClientKey).join(Client, Client.id == ClientKey.client_id).where(
        Client.id == client_id_of(agency_id), Client.disabled_at.is_(None)).order_by(ClientKey.id.desc()))
    held = set(keyring().hosted.held(agency_id))
    return next((key.kid for key in keys if key.usable_at(now) and key.kid in held), None)


def rotate(actor: Actor, agency_id: str) -> str:
    """Give the agency a new hosted key: register its public half, revoke and destroy the old ones.

    One transaction for the database (the new key, the old ones revoked, the audit events); the new
    private key is destroyed again if it fails, and the old private keys only after it commits.
    Returns the new kid.
    """
    require_agency(agency_id)
    client_id = client_id_of(agency_id)
    if len(client_id) > MAX_CLIENT_ID:
        raise InvalidError(f"an agency id of at most {MAX_CLIENT_ID - len(CLIENT_PREFIX)} characters can have "
                           "a hosted key", reason="agency_id_too_long")
    jwk = keyring().hosted.create(agency_id)
    try:
        _register(actor, agency_id, client_id, jwk)
    except BaseException:
        db.session.rollback()
        keyring().hosted.destroy(jwk["kid"])
        raise
    for kid in keyring().hosted.held(agency_id):
        if kid != jwk["kid"]:
            keyring().hosted.destroy(kid)
    return jwk["kid"]


def _register(actor: Actor, agency_id: str, client_id: str, jwk: dict[str, str]) -> None:
    client = db.session.get(Client, client_id)
    if client is None:
        client = Client(id=client_id, agency_id=agency_id)
        db.session.add(client)
    now = utcnow()
    for old in client.keys:
        if old.revoked_at is None:
            old.revoked_at = now
            audit.record(actor, AuditAction.CLIENT_KEY_REVOKE, "allowed", resource=f"client-key:{old.kid}")
    client.keys.append(ClientKey(kid=jwk["kid"], jwk=jwk, not_before=now))
    audit.record(actor, AuditAction.HOSTED_KEY_ROTATE, "allowed", resource=f"client-key:{jwk['kid']}")
    db.session.commit()
