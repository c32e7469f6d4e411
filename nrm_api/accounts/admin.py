"""Administration of principals: register, disable, revoke. Every change audited."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from ..agencies.service import require_agency
from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..crypto import KeyFormatError
from ..crypto.hosted import PREFIX, is_hosted_kid
from ..crypto.jose import parse_public_jwks
from ..crypto.passwords import hash_password, new_totp_secret, totp_uri
from ..database import utcnow
from ..errors import ConflictError, InvalidError, NotFoundError
from ..extensions import db, keyring
from .models import USER_ROLES, Client, ClientKey, User

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 12


def add_client(actor: Actor, agency_id: str, client_id: str, jwks: Any) -> Client:
    """Register an agency system with its public Ed25519 key(s)."""
    require_agency(agency_id)
    if not ID_PATTERN.fullmatch(client_id):
        raise InvalidError("a client id is 2-64 characters: letters, digits, '.', '_' and '-'")
    if db.session.get(Client, client_id) is not None:
        raise ConflictError(f"client {client_id!r} exists already")
    keys = _new_keys(jwks)
    client = Client(id=client_id, agency_id=agency_id)
    client.keys = [ClientKey(kid=key["kid"], jwk=key) for key in keys]
    db.session.add(client)
    audit.record(actor, AuditAction.CLIENT_CREATE, "allowed", resource=f"client:{client_id}")
    db.session.commit()
    return client


def add_client_key(actor: Actor, client_id: str, jwks: Any, not_after: datetime | None = None) -> list[ClientKey]:
    """Add public key(s) to a registered client, e.g. before rotating its key."""
    client = db.session.get(Client, client_id)
    if client is None:
        raise NotFoundError(f"no client {client_id!r}")
    added = [ClientKey(kid=key["kid"], jwk=key, not_after=not_after) for key in _new_keys(jwks)]
    client.keys.extend(added)
    for key in added:
        audit.record(actor, AuditAction.CLIENT_KEY_ADD, "allowed", resource=f"client-key:{key.kid}")
    db.session.commit()
    return added


def revoke_client_key(actor: Actor, client_id: str, kid: str) -> ClientKey:
    """Revoke a client's key now; it stays on record to verify what it signed before."""
    key = db.session.scalar(select(ClientKey).where(ClientKey.client_id == client_id, ClientKey.kid == kid))
    if key is None:
        raise NotFoundError(f"client {client_id!r} has no key {kid!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    audit.record(actor, AuditAction.CLIENT_KEY_REVOKE, "allowed", resource=f"client-key:{kid}")
    db.session.commit()
    return key


def _new_keys(jwks: Any) -> list[dict[str, str]]:
    try:
        keys = parse_public_jwks(jwks)
    except KeyFormatError as error:
        raise InvalidError(str(error)) from None
    kids = [key["kid"] for key in keys]
    if any(is_hosted_kid(kid) for kid in kids):
        raise InvalidError(f"a kid starting with {PREFIX!r} names a hosted key: choose another kid")
    if len(set(kids)) != len(kids):
        raise InvalidError("two keys share one kid")
    taken = db.session.scalars(select(ClientKey.kid).where(ClientKey.kid.in_(kids))).first()
    if taken is not None:
        raise ConflictError(f"a key with kid {taken!r} is registered already")
    return keys


def add_user(
    actor: Actor, username: str, *, agency_id: str, role: str, password: str, totp: bool = False
) -> tuple[User, str | None]:
    """Add a person; with ``totp``, enrol a TOTP secret and return its ``otpauth://`` URI once."""
    require_agency(agency_id)
    if not ID_PATTERN.fullmatch(username):
        raise InvalidError("a username is 2-64 characters: letters, digits, '.', '_' and '-'")
    if role not in USER_ROLES:
        raise InvalidError(f"unknown role {role!r}: one of {', '.join(USER_ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if db.session.scalar(select(User).where(User.username == username)) is not None:
        raise ConflictError(f"user {username!r} exists already")
    user = User(username=username, agency_id=agency_id, role=role, password_hash=hash_password(password))
    uri = None
    if totp:
        secret = new_totp_secret()
        user.totp_sealed = keyring().seal(secret.encode(), f"user:{username}:totp")
        uri = totp_uri(secret, username, "nrm-api")
    db.session.add(user)
    audit.record(actor, AuditAction.USER_CREATE, "allowed", resource=f"user:{username}")
    db.session.commit()
    return user, uri


def disable_user(actor: Actor, username: str) -> None:
    """Stop a person signing in; their tokens and device tokens stop working at once."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    if user.disabled_at is None:
        user.disabled_at = utcnow()
    _raise_version(User, User.id == user.id)
    audit.record(actor, AuditAction.USER_DISABLE, "allowed", resource=f"user:{username}")
    db.session.commit()


def disable_client(actor: Actor, client_id: str) -> None:
    """Stop an agency system obtaining tokens; the tokens it holds stop working at once."""
    client = db.session.get(Client, client_id)
    if client is None:
        raise NotFoundError(f"no client {client_id!r}")
    if client.disabled_at is None:
        client.disabled_at = utcnow()
    _raise_version(Client, Client.id == client_id)
    audit.record(actor, AuditAction.CLIENT_DISABLE, "allowed", resource=f"client:{client_id}")
    db.session.commit()


def revoke_tokens(actor: Actor, principal: str) -> None:
    """Revoke every token issued so far to ``user:NAME`` or ``client:ID``; new sign-ins still work."""
    kind, _, name = principal.partition(":")
    found: object = None
    if kind == "user":
        found = db.session.scalar(select(User.id).where(User.username == name))
        condition = User.id == found
    elif kind == "client":
        found = db.session.scalar(select(Client.id).where(Client.id == name))
        condition = Client.id == found
    else:
        raise InvalidError("a principal is user:USERNAME or client:CLIENT_ID, as access tokens name it")
    if found is None:
        raise NotFoundError(f"no {kind} {name!r}")
    _raise_version(User if kind == "user" else Client, condition)
    audit.record(actor, AuditAction.TOKENS_REVOKE, "allowed", resource=principal)
    db.session.commit()


def _raise_version(model: type[User] | type[Client], condition: Any) -> None:
    """Raise the token version atomically: tokens carry the one they were issued under."""
    db.session.execute(update(model).where(condition).values(token_version=model.token_version + 1)
                       .execution_options(synchronize_session=False))
