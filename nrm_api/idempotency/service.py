"""``Idempotency-Key``: the first answer is stored in the same transaction as the work it answers.

A retry finds the stored answer and gets it again (the same key with another body is 422), but
only once its own signature has been verified — a retry is a request like any other, so a garbage
signature gets a 401, never the first answer — and the retry is audited (``idempotent_replay``).
Two requests racing with one key both do the work, but only one can store its answer: the other's
insert waits on the key's unique index and then fails, its whole transaction rolls back, and it
answers with the winner's reply (audited the same way) — or 409 if the winner is still running
after a second.

What is stored is the first ``Written`` result, in the columns the table has always had (rows from
before issue 10 replay the same): ``status_code`` 201 when the write created its record, else 200;
``response`` its body; ``headers`` its ``ETag`` (older rows also hold the API's ``Location``, which the
door rebuilds from the record's kind and id). Each door answers the replayed result as it answers
a fresh one, so a retry gets the same answer byte for byte.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, bindparam, delete, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ..audit import events as audit
from ..audit.actor import Actor
from ..database import utcnow
from ..errors import ConflictError, DomainError, InvalidError
from ..extensions import db
from ..preconditions import etag, revision_of
from ..writes import RequestFacts, Written
from .models import IdempotencyRecord

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,200}$")
KEEP = timedelta(hours=48)
PRUNE_ONE_IN = 200


class MissingKey(DomainError):
    """The request needs an ``Idempotency-Key``."""

    status, slug, title = 400, "idempotency-key-required", "Idempotency-Key required"


class StillRunning(ConflictError):
    """The first request with this key has not finished yet."""

    slug = "idempotency-key-in-use"


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What identifies a request: method, path and body."""
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


def check_key(key: str | None) -> str:
    """The key, or a clear 400/422."""
    if not key:
        raise MissingKey("send an Idempotency-Key header (e.g. a UUID) with this POST")
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidError("an Idempotency-Key is 1-200 printable ASCII characters",
                           errors={"headers": {"Idempotency-Key": ["invalid"]}})
    return key


@dataclass(frozen=True)
class Attempt:
    """A request under an ``Idempotency-Key``: its key, its fingerprint, and the first result if there was one."""

    key: str
    fingerprint: str
    first: Written | None
    #: What the request does and the kind of record it writes: what a replay is audited as.
    action: StrEnum
    kind: str


def begin(actor: Actor, facts: RequestFacts, body: bytes, action: StrEnum, kind: str) -> Attempt:
    """Check the key and look for the first result under it (422 if the key came with another request).

    With a first result, the caller verifies the retry's signature (against ``first.resource``)
    and then answers with ``replayed``: never the first result before that.
    """
    checked = check_key(facts.idempotency_key)
    request_fingerprint = fingerprint(facts.method, facts.path, body)
    try:
        first = replay(actor, checked, request_fingerprint, kind)
    except InvalidError as error:
        error.reason, error.action = "idempotency_key_reused", action
        raise
    return Attempt(checked, request_fingerprint, first, action, kind)


def replayed(actor: Actor, attempt: Attempt, first: Written) -> Written:
    """Audit a verified retry and commit, then give it the first result again."""
    audit.record(actor, attempt.action, "allowed", resource=first.resource, reason="idempotent_replay")
    db.session.commit()
    return first


def replay(actor: Actor, key: str, request_fingerprint: str, kind: str) -> Written | None:
    """The first result under ``key`` (a write of a ``kind`` record), if there is one."""
    if random.randrange(PRUNE_ONE_IN) == 0:  # noqa: S311 - when to prune, not a secret
        db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - KEEP))
    record = db.session.execute(_FIRST, {"principal": actor.subject, "key": key}).first()
    if record is None:
        return None
    if record.fingerprint != request_fingerprint:
        raise InvalidError("this Idempotency-Key was used with another request",
                           errors={"headers": {"Idempotency-Key": ["reused with another body"]}})
    return Written(kind, str(record.response["id"]), revision_of(record.headers["ETag"]), record.status_code == 201,
                   dict(record.response))


_RECORDS = cast(Table, IdempotencyRecord.__table__)
_FIRST = select(IdempotencyRecord.fingerprint, IdempotencyRecord.status_code, IdempotencyRecord.response,
                IdempotencyRecord.headers).where(IdempotencyRecord.principal == bindparam("principal"),
                                                 IdempotencyRecord.key == bindparam("key"))
_STORED = ("principal", "key", "fingerprint", "status_code", "response", "headers", "created_at")
_STORE = insert(_RECORDS).values({name: bindparam(name, type_=_RECORDS.c[name].type) for name in _STORED})
#: PostgreSQL: the same insert, waiting at most a second for a concurrent first use of the key to end —
#: ``SET LOCAL lock_timeout`` (to the end of the transaction) in the very statement that may wait.
_STORE_WAITING = insert(_RECORDS).from_select(list(_STORED), select(
    *(bindparam(name, type_=_RECORDS.c[name].type) for name in _STORED)).where(
    func.set_config("lock_timeout", "1s", True).is_not(None)))


def commit_with(actor: Actor, attempt: Attempt, written: Written) -> Written:
    """Store the result beside the work and commit both; if another request won the key, answer as it did."""
    key, request_fingerprint = attempt.key, attempt.fingerprint
    session = db.session
    store = _STORE_WAITING if session.get_bind().dialect.name == "postgresql" else _STORE
    stored = {"principal": actor.subject, "key": key, "fingerprint": request_fingerprint,
              "status_code": 201 if written.created else 200, "response": dict(written.body),
              "headers": {"ETag": etag(written.revision)}, "created_at": utcnow()}
    try:
        session.execute(store, stored)
        session.commit()
    except IntegrityError:
        session.rollback()
        first = replay(actor, key, request_fingerprint, attempt.kind)
        if first is None:  # pragma: no cover - the winner's row is committed when the unique index fails us
            raise StillRunning("the first request with this Idempotency-Key is still running",
                               reason="idempotency_key_in_use", action=attempt.action) from None
        # this request's signature was verified before its work; the work is gone, the retry is logged
        return replayed(actor, attempt, first)
    except OperationalError as error:
        if not _lock_timed_out(error):
            raise  # the database went away (a connection terminated): 503, not a key in use
        raise StillRunning("the first request with this Idempotency-Key is still running; retry shortly",
                           reason="idempotency_key_in_use", action=attempt.action) from None
    return written


#: PostgreSQL's ``lock_not_available``: ``lock_timeout`` ran out waiting on the key's unique index.
LOCK_NOT_AVAILABLE = "55P03"


def _lock_timed_out(error: OperationalError) -> bool:
    """Whether the insert gave up waiting for another request's use of the key (not a lost database)."""
    if getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
        return True
    return "database is locked" in str(error.orig)  # SQLite: the writer ahead held the lock past busy_timeout
