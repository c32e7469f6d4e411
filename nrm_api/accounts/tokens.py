"""Access tokens: flask-jwt-extended, signed by the keyring's newest token key, verified by ``kid``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
from flask import Flask, current_app
from flask_jwt_extended import create_access_token
from sqlalchemy import Select, exists, or_, select

from ..database import utcnow
from ..extensions import db, jwt, keyring
from .models import Client, ClientKey, RevokedToken, User

TOKEN_TYPE = "at+jwt"  # noqa: S105 - the JWT typ of access tokens (RFC 9068)
#: Where agency systems get tokens, below the issuer (the metadata's ``token_endpoint``).
TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret


def configure(app: Flask) -> None:
    """Set flask-jwt-extended to asymmetric keys, issuer and audience checks, a short life."""
    base = app.config["BASE_URL"]
    app.config.update(
        JWT_ALGORITHM="EdDSA",
        JWT_DECODE_ALGORITHMS=["EdDSA"],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ENCODE_ISSUER=base,
        JWT_DECODE_ISSUER=base,
        JWT_ENCODE_AUDIENCE=base,
        JWT_DECODE_AUDIENCE=base,
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=app.config["ACCESS_TOKEN_SECONDS"]),
        JWT_ERROR_MESSAGE_KEY="detail",
    )


@jwt.encode_key_loader
def _encode_key(_identity: Any) -> bytes:
    return keyring().token_key.private_pem()


@jwt.decode_key_loader
def _decode_key(header: dict[str, Any], _claims: dict[str, Any]) -> bytes:
    if header.get("typ") != TOKEN_TYPE:
        raise pyjwt.InvalidTokenError("not an access token")
    key = keyring().token_key_by_kid(str(header.get("kid")))
    if key is None:
        raise pyjwt.InvalidTokenError("unknown token key")
    return key.public_pem()


@jwt.token_in_blocklist_loader
def _is_revoked(_header: dict[str, Any], claims: dict[str, Any]) -> bool:
    """Whether a verified token no longer holds: revoked, or its principal or key cut off."""
    query = _live_version(claims)
    return query is None or db.session.scalar(query) != claims.get("ver")


def _live_version(claims: dict[str, Any]) -> Select[Any] | None:
    """One query: the principal's token version if it and its key are in good standing now."""
    subject = str(claims.get("sub"))
    kind, _, name = subject.partition(":")
    fresh = ~exists().where(RevokedToken.jti == str(claims.get("jti")))
    if kind == "user":
        return select(User.token_version).where(User.username == name, User.disabled_at.is_(None), fresh)
    if kind != "client":
        return None
    now = utcnow()
    return (select(Client.token_version).join(ClientKey, ClientKey.client_id == Client.id)
            .where(Client.id == name, Client.disabled_at.is_(None), ClientKey.kid == str(claims.get("client_kid")),
                   or_(ClientKey.revoked_at.is_(None), ClientKey.revoked_at > now),
                   or_(ClientKey.not_after.is_(None), ClientKey.not_after > now), ClientKey.not_before <= now,
                   fresh))


def mint(subject: str, agency: str, role: str, version: int, client_kid: str | None = None) -> tuple[str, int]:
    """An access token for a principal at its token ``version`` (and, for a client, the key it proved)."""
    seconds = int(current_app.config["ACCESS_TOKEN_SECONDS"])
    claims: dict[str, Any] = {"agency": agency, "role": role, "ver": version}
    if client_kid is not None:
        claims["client_kid"] = client_kid
    token = create_access_token(
        identity=subject,
        additional_claims=claims,
        additional_headers={"kid": keyring().token_key.kid, "typ": TOKEN_TYPE},
        expires_delta=timedelta(seconds=seconds),
    )
    return token, seconds


def expiry_of(claims: dict[str, Any]) -> datetime:
    """The expiry of a decoded token as an aware datetime."""
    return datetime.fromtimestamp(int(claims["exp"]), UTC)
