"""Signed writes: the caller's detached JWS over the canonical body, by a key of its own agency.

A signature is bound to the request it authorises (``htm``, ``htu``) and used once (``jti``,
remembered in the database so every node sees it). The one reuse allowed is a retry: the same
request under the same ``Idempotency-Key`` — the idempotency layer then answers (the stored result,
or the unique key refusing a second copy of the work).

What the signature is bound to comes in as ``RequestFacts`` (method, path and ``Idempotency-Key`` of
the API operation), built by the door: this module reads no web request.
"""

from __future__ import annotations

import functools
import hashlib
import random
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Insert, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ..audit.actor import Actor
from ..crypto import TokenError
from ..crypto.jws import MAX_SKEW_SECONDS, detached_header, verify_detached, verify_stored
from ..database import utcnow
from ..errors import BadSignature
from ..extensions import db, keyring
from ..writes import RequestFacts
from .hosted import check_signer
from .models import Client, ClientKey, UsedSignature

#: A signature is accepted while its iat is within 5 minutes of now: at most 10 minutes after it is
#: first seen. Remember its jti a little longer than that.
REMEMBER = timedelta(seconds=2 * MAX_SKEW_SECONDS + 60)
PRUNE_ONE_IN = 100


@dataclass(frozen=True)
class WriteSignature:
    """A verified signature, to store beside what it signs."""

    value: str
    kid: str


def verify_write(actor: Actor, signature: str | None, payload: bytes, facts: RequestFacts, action: StrEnum,
                 resource: str) -> WriteSignature:
    """Verify a detached ``signature`` over ``payload`` bound to ``facts`` (``htm``, ``htu``), and use up its ``jti``.

    Refuse with 401 naming what is wrong (the door's boundary audits it). Call it on a retry too (before
    replaying): a retry of the same request with the same ``Idempotency-Key`` may carry the signature again.
    """
    try:
        header = verify_detached(signature, payload, lambda kid: _agency_key(actor, kid), facts.method, facts.path)
        check_signer(actor, header)  # a hosted key's signature is good only from the user it names
        _use_jti(actor, header, payload, facts)
    except TokenError as error:
        raise BadSignature(error.code, error.message, resource=resource, action=action) from None
    return WriteSignature(str(signature), str(header["kid"]))


def _use_jti(actor: Actor, header: dict[str, Any], payload: bytes, facts: RequestFacts) -> None:
    """Remember the ``jti`` in this transaction; refuse it if another request already used it."""
    session = db.session
    now = utcnow()
    if random.randrange(PRUNE_ONE_IN) == 0:  # noqa: S311 - when to prune, not a secret
        session.execute(delete(UsedSignature).where(UsedSignature.expires_at < now))
    kid, jti, identity = str(header["kid"]), str(header["jti"]), _request_identity(actor, payload, facts)
    statement = _first_use(session.get_bind().dialect.name)
    parameters = {"kid": kid, "jti": jti, "request_hash": identity, "expires_at": now + REMEMBER, "now": now}
    if session.execute(statement, parameters).first() is not None:  # written: first use, or an expired row taken over
        return
    stored = session.scalar(select(UsedSignature.request_hash).where(UsedSignature.kid == kid,
                                                                     UsedSignature.jti == jti))
    if identity is None or stored != identity:
        raise TokenError("jti_reused", "this signature (jti) was used before: sign each request afresh")


@functools.cache
def _first_use(dialect_name: str) -> Insert:
    """The jti's insert, built once per dialect.

    One statement that also waits for a concurrent first use to commit (or roll back) on the key, and
    takes over an expired row.
    """
    table = UsedSignature.__table__
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    values = {"request_hash": bindparam("request_hash", type_=table.c.request_hash.type),
              "expires_at": bindparam("expires_at", type_=table.c.expires_at.type)}
    return dialect.insert(table).values(  # type: ignore[no-any-return]
        kid=bindparam("kid", type_=table.c.kid.type), jti=bindparam("jti", type_=table.c.jti.type), **values
    ).on_conflict_do_update(index_elements=[table.c.kid, table.c.jti], set_=values,
                            where=table.c.expires_at < bindparam("now", type_=table.c.expires_at.type)
                            ).returning(table.c.jti)


def _request_identity(actor: Actor, payload: bytes, facts: RequestFacts) -> str | None:
    """What makes a retry the same request: principal, ``Idempotency-Key``, method, path and body."""
    if not facts.idempotency_key:
        return None
    head = "\n".join((str(actor.subject), facts.idempotency_key, facts.method, facts.path, "")).encode()
    return hashlib.sha256(head + payload).hexdigest()


#: The signing key the token check read with the principal's standing: ``(kid, agency, jwk or None)``.
_PREFETCHED = "nrm_signing_key"


def kid_of(signature: str | None) -> str | None:
    """The ``kid`` a detached signature names, or None for anything unreadable (``verify_write`` says why)."""
    try:
        kid = detached_header(signature).get("kid")
    except TokenError:
        return None
    return kid if isinstance(kid, str) else None


def prefetched(kid: str, agency: str | None, jwk: dict[str, str] | None) -> None:
    """Keep the usable key ``kid`` of ``agency`` (or that there is none), read now, for this request's write."""
    db.session.info[_PREFETCHED] = (kid, agency, jwk)


def _agency_key(actor: Actor, kid: str) -> dict[str, str] | None:
    """A usable key of a client of the actor's own agency: another agency's key is no key at all."""
    found = db.session.info.pop(_PREFETCHED, None)
    if found is not None and found[:2] == (kid, actor.agency):  # read by this request's token check
        return dict(found[2]) if found[2] is not None else None
    key = db.session.scalar(select(ClientKey).join(Client, Client.id == ClientKey.client_id).where(
        ClientKey.kid == kid, Client.agency_id == actor.agency, Client.disabled_at.is_(None)))
    if key is None or not key.usable_at(utcnow()):
        return None
    return dict(key.jwk)


def key_of(kid: str) -> dict[str, str] | None:
    """Any key ever registered, revoked or expired ones included: to re-verify stored signatures."""
    key = db.session.scalar(select(ClientKey).where(ClientKey.kid == kid))
    return dict(key.jwk) if key else None


def stored_verifies(signature: str | None, payload: bytes) -> bool:
    """Whether a stored write signature verifies over ``payload`` now, by the key its ``kid`` names.

    Any key ever registered counts (a revoked key's old signatures stay good), and the service's
    own keys, which sign what the service writes itself (a cancellation on withdrawn consent).
    """
    try:
        verify_stored(signature, payload, _any_key)
    except TokenError:
        return False
    return True


def _any_key(kid: str) -> dict[str, str] | None:
    service = next((key.public_jwk() for key in keyring().signing_keys if key.kid == kid), None)
    return service or key_of(kid)
