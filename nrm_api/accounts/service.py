"""Token issuance for agency systems (RFC 7523 ``private_key_jwt``), revocation, and lookups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from .. import metrics
from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..crypto import TokenError, jose
from ..database import utcnow
from ..extensions import db, settings
from ..permissions import Permission
from . import tokens
from .models import Client, ClientKey, RevokedToken, UsedAssertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_TYPS = {"client-authentication+jwt", "JWT", None}
ASSERTION_MAX_LIFETIME = timedelta(minutes=5)
CLOCK_LEEWAY = timedelta(seconds=30)


class OAuthError(Exception):
    """A refusal at the token endpoint, answered per RFC 6749 §5.2."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class Grant:
    """An issued access token."""

    access_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type


def issue_client_token(params: Mapping[str, Any], actor: Actor) -> Grant:
    """Authenticate an agency system by its signed assertion and issue it an access token."""
    now = utcnow()
    if not params.get("grant_type"):
        _refuse(actor, "invalid_request", "missing_grant_type",
                "a form-encoded body with grant_type=client_credentials is required", 400)
    if params.get("grant_type") != "client_credentials":
        _refuse(actor, "unsupported_grant_type", "unsupported_grant_type",
                "grant_type must be client_credentials", 400)
    if params.get("client_assertion_type") != ASSERTION_TYPE or not params.get("client_assertion"):
        _refuse(actor, "invalid_request", "missing_assertion",
                f"client_assertion_type must be {ASSERTION_TYPE} with a client_assertion", 400)
    assertion = str(params["client_assertion"])
    try:
        header = jose.unverified_header(assertion)
        claimed = jose.unverified_claims(assertion)
    except TokenError as error:
        _refuse(actor, "invalid_client", error.code, error.message)
    client = _claimed_client(claimed, params.get("client_id"), actor)
    actor = replace(actor, subject=f"client:{client.id}", agency=client.agency_id, role="system")
    if header.get("typ") not in ASSERTION_TYPS:
        _refuse(actor, "invalid_client", "wrong_type", "the assertion's typ must be client-authentication+jwt")
    keys = _candidate_keys(client, header.get("kid"), now, actor)
    claims, key = _verified(assertion, keys, actor)
    _check_claims(claims, client.id, now, actor)
    _consume_jti(client.id, claims, now, actor)
    token, seconds = tokens.mint(f"client:{client.id}", client.agency_id, "system", client.token_version, key.kid)
    audit.record(actor, AuditAction.AUTH_TOKEN, "allowed", resource=f"client:{client.id}")
    db.session.commit()
    return Grant(token, seconds)


def _refuse(actor: Actor, error: str, reason: str, description: str, status: int = 401) -> Any:
    metrics.token_refused("assertion", error)
    audit.record_refusal(actor, AuditAction.AUTH_TOKEN, reason=reason)
    raise OAuthError(error, description, status)


def _claimed_client(claims: Mapping[str, Any], client_id: Any, actor: Actor) -> Client:
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        _refuse(actor, "invalid_client", "missing_issuer", "the assertion has no iss")
    if client_id and client_id != issuer:
        _refuse(actor, "invalid_client", "client_id_mismatch", "client_id differs from the assertion's iss")
    client = db.session.get(Client, issuer)
    if client is None or client.disabled_at is not None:
        _refuse(actor, "invalid_client", "unknown_client", "unknown or disabled client")
    return client  # type: ignore[return-value]


def _candidate_keys(client: Client, kid: Any, now: datetime, actor: Actor) -> list[ClientKey]:
    keys = [key for key in client.keys if kid is None or key.kid == kid]
    if not keys:
        _refuse(actor, "invalid_client", "unknown_key", "no key with this kid is registered for the client")
    usable = [key for key in keys if key.usable_at(now)]
    if not usable:
        reason = "revoked_key" if any(key.revoked_at for key in keys) else "key_not_valid_now"
        _refuse(actor, "invalid_client", reason, "the key is revoked or outside its validity window")
    return usable


def _verified(assertion: str, keys: list[ClientKey], actor: Actor) -> tuple[dict[str, Any], ClientKey]:
    """The assertion's claims and the key that signed it: its tokens live only as long as that key."""
    for key in keys:
        try:
            return jose.verify_jwt(assertion, [key.jwk])[1], key
        except TokenError as error:
            if error.code != "bad_signature":
                return _refuse(actor, "invalid_client", error.code, error.message)  # type: ignore[no-any-return]
    return _refuse(actor, "invalid_client", "bad_signature",  # type: ignore[no-any-return]
                   "the signature does not verify with a registered key")


def _check_claims(claims: Mapping[str, Any], client_id: str, now: datetime, actor: Actor) -> None:
    base = settings().base_url
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    # RFC 7523 §3: the issuer or the token endpoint's URL (what many OAuth libraries send); nothing else
    ours = {base, f"{base}{tokens.TOKEN_PATH}"}
    addressed = any(isinstance(name, str) and name in ours for name in audiences)
    stamp = now.timestamp()
    leeway = CLOCK_LEEWAY.total_seconds()
    problems = [
        (claims.get("sub") != client_id or claims.get("iss") != client_id, "bad_subject",
         "iss and sub must both be the client id"),
        (not addressed, "wrong_audience", f"aud must be {base} or {base}{tokens.TOKEN_PATH}"),
        (not _is_number(claims.get("exp")), "missing_exp", "exp is required"),
        (not _is_number(claims.get("iat")), "missing_iat", "iat is required"),
        (not isinstance(claims.get("jti"), str) or not 0 < len(claims.get("jti", "")) <= 200,
         "missing_jti", "jti is required, at most 200 characters"),
    ]
    _first_problem(problems, actor)
    exp, iat = float(claims["exp"]), float(claims["iat"])
    horizon = ASSERTION_MAX_LIFETIME.total_seconds()
    _first_problem([
        (exp <= stamp - leeway, "expired", "the assertion has expired"),
        (exp > stamp + horizon + leeway, "exp_too_far", "exp may be at most 5 minutes ahead"),
        (iat > stamp + leeway, "iat_in_future", "iat is in the future"),
        (iat < stamp - horizon - leeway, "iat_too_old", "iat is more than 5 minutes ago"),
        (_is_number(claims.get("nbf")) and float(claims["nbf"]) > stamp + leeway, "not_yet_valid",
         "nbf is in the future"),
    ], actor)


def _first_problem(problems: list[tuple[bool, str, str]], actor: Actor) -> None:
    for failed, reason, description in problems:
        if failed:
            _refuse(actor, "invalid_client", reason, description)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _consume_jti(client_id: str, claims: Mapping[str, Any], now: datetime, actor: Actor) -> None:
    """Remember the ``jti`` until the assertion expires; a second use is refused."""
    session = db.session
    session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < now - CLOCK_LEEWAY))
    expires = datetime.fromtimestamp(float(claims["exp"]), now.tzinfo) + CLOCK_LEEWAY
    session.add(UsedAssertion(client_id=client_id, jti=claims["jti"], expires_at=expires))
    try:
        session.flush()
    except IntegrityError:
        _refuse(actor, "invalid_client", "replayed_jti", "this assertion (jti) was used before")


def revoke_token(actor: Actor, claims: Mapping[str, Any]) -> None:
    """Revoke the access token the actor presented."""
    db.session.merge(RevokedToken(jti=str(claims["jti"]), expires_at=tokens.expiry_of(dict(claims))))
    audit.record(actor, Permission.TOKEN_REVOKE, "allowed", resource=f"token:{claims['jti']}")
    db.session.commit()

