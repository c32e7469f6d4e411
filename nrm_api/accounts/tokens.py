"""Access tokens: flask-jwt-extended, signed by the keyring's newest token key, verified by ``kid``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
from flask import Flask, current_app, request
from flask_jwt_extended import create_access_token
from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, or_, select
from sqlalchemy.orm import aliased

from ..database import UTCDateTime, utcnow
from ..extensions import db, jwt, keyring
from . import signing
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
    """Whether a verified token no longer holds: revoked, or its principal or key cut off.

    One query, which also reads the key that signs the request's body if it carries one (a signed
    write): read in the same moment as the token's standing, so the write's check needs no query of its own.
    """
    kind, _, name = str(claims.get("sub")).partition(":")
    if kind not in _LIVE_VERSION:
        return True
    params = {"name": name, "jti": str(claims.get("jti")), "kid": str(claims.get("client_kid")), "now": utcnow()}
    signing_kid = signing.kid_of(request.headers.get("X-JWS-Signature"))
    if signing_kid is None:
        return bool(db.session.scalar(_LIVE_VERSION[kind][0], params) != claims.get("ver"))
    agency = claims.get("agency")
    row = db.session.execute(_LIVE_VERSION[kind][1], {**params, "signing_kid": signing_kid,
                                                      "agency": agency}).first()
    if row is None:
        return True
    signing.prefetched(signing_kid, agency, row[1])
    return bool(row[0] != claims.get("ver"))


def _usable(key: type[ClientKey] | Any) -> ColumnElement[bool]:
    now = bindparam("now", type_=UTCDateTime())
    return and_(or_(key.revoked_at.is_(None), key.revoked_at > now), or_(key.not_after.is_(None), key.not_after > now),
                key.not_before <= now)


def _live_versions() -> dict[str, tuple[Select[Any], Select[Any]]]:
    """Per kind of principal: its token version if it and its key are in good standing now (built once).

    The second statement also reads the JWK of the usable key ``signing_kid`` of ``agency``'s systems, or null.
    """
    fresh = ~exists().where(RevokedToken.jti == bindparam("jti"))
    user = select(User.token_version).where(User.username == bindparam("name"), User.disabled_at.is_(None), fresh)
    client = (select(Client.token_version).join(ClientKey, ClientKey.client_id == Client.id)
              .where(Client.id == bindparam("name"), Client.disabled_at.is_(None), ClientKey.kid == bindparam("kid"),
                     _usable(ClientKey), fresh))
    signer, system = aliased(ClientKey), aliased(Client)
    key = (select(signer.jwk).join(system, system.id == signer.client_id)
           .where(signer.kid == bindparam("signing_kid"), system.agency_id == bindparam("agency"),
                  system.disabled_at.is_(None), _usable(signer)).scalar_subquery())
    return {"user": (user, user.add_columns(key)), "client": (client, client.add_columns(key))}


_LIVE_VERSION = _live_versions()


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
