"""The auditor's use cases. Each is itself audited, before anything is disclosed."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import InvalidError, NotFoundError
from ..extensions import db
from ..permissions import Permission
from . import events, notes, queries, refusals
from . import log as audit_log
from .actor import Actor
from .models import AuditCheckpoint, AuditEvent, AuditLeaf
from .tree import StoredTree
from .verify import Report

MAX_CHECKPOINTS = 1000
EVENT_HASH = re.compile(r"[0-9a-f]{64}")


def _audited(actor: Actor, permission: Permission, resource: str) -> None:
    events.record(actor, permission, "allowed", resource=resource)
    db.session.commit()


def list_events(actor: Actor, filters: Mapping[str, Any], cursor: str | None, limit: int) -> queries.Page:
    """A page of events matching ``filters``."""
    refusals.flush_closed()
    result = queries.page(db.session, filters, cursor, limit)
    _audited(actor, Permission.AUDIT_READ, "audit:events")
    return result


def access_log(actor: Actor, resource: str, cursor: str | None, limit: int) -> queries.Page:
    """Every audited access to one record (``form:ID`` once forms exist)."""
    refusals.flush_closed()
    result = queries.page(db.session, {"resource": resource}, cursor, limit)
    _audited(actor, Permission.AUDIT_READ, f"access-log:{resource}")
    return result


def export_events(actor: Actor, filters: Mapping[str, Any], fmt: str) -> Iterator[str]:
    """The matching events as CSV or JSON Lines, streamed; the export is audited before it starts.

    The stream reads on a session of its own, closed when it ends or is dropped (a client that
    hangs up): it outlives the request, whose session is gone by the time the body is sent.
    """
    _audited(actor, Permission.AUDIT_EXPORT, f"audit:export:{fmt}")
    return _export(db.reader(), filters, fmt)


def export_bundle(actor: Actor) -> Iterator[str]:
    """The offline bundle (exact bytes, checkpoints, public keys), streamed on a read-only session of its own.

    Like the export it is audited before it starts and never holds the write lock while it is sent.
    """
    _audited(actor, Permission.AUDIT_EXPORT, "audit:export:bundle")
    session = db.reader()
    try:
        lines = audit_log.bundle_lines(session)  # the header now, in the app context; the events as sent
    except BaseException:
        session.close()
        raise
    return _closing(session, lines)


def _closing(session: Session, lines: Iterator[str]) -> Iterator[str]:
    try:
        yield from lines
    finally:
        session.close()


def _export(session: Session, filters: Mapping[str, Any], fmt: str) -> Iterator[str]:
    rows = queries.stream(session, filters)
    try:
        yield from queries.as_csv(rows) if fmt == "csv" else queries.as_jsonl(rows)
    finally:
        rows.close()
        session.close()


def list_checkpoints(actor: Actor, limit: int = 100) -> dict[str, Any]:
    """The newest checkpoints and the key to verify them with."""
    query = select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(min(limit, MAX_CHECKPOINTS))
    items = list(db.session.scalars(query))
    origin = audit_log.log_origin(db.session)
    keys = [notes.verifier_key(origin, audit_log.public_key(key)) for key in audit_log.public_keys()]
    _audited(actor, Permission.AUDIT_READ, "audit:checkpoints")
    return {"origin": origin, "verifier_keys": keys, "items": items}


def verify(actor: Actor) -> Report:
    """Verify the whole stored log."""
    refusals.flush_closed()
    report = audit_log.verify_live(db.session)
    db.session.rollback()
    events.record(actor, Permission.AUDIT_VERIFY, "allowed", resource="audit:log",
                   reason="valid" if report.valid else f"invalid:{report.problem}")
    db.session.commit()
    return report


def inclusion_proof(actor: Actor, seq: int, tree_size: int | None) -> dict[str, Any]:
    """An inclusion proof of position ``seq``."""
    proof = audit_log.inclusion(db.session, seq, tree_size)
    if proof is None:
        raise NotFoundError("no such position under a checkpoint (yet): try again after the next checkpoint",
                            resource=f"audit:position:{seq}", action=Permission.AUDIT_READ)
    _audited(actor, Permission.AUDIT_READ, f"audit:position:{seq}")
    return proof


def consistency_proof(actor: Actor, old: int, new: int) -> dict[str, Any]:
    """A consistency proof between two checkpoints."""
    sizes = set(db.session.scalars(select(AuditCheckpoint.tree_size)
                                   .where(AuditCheckpoint.tree_size.in_([old, new]))))
    if {old, new} - sizes or old > new:
        raise NotFoundError("both sizes must be checkpoints, the first no larger than the second",
                            resource=f"audit:consistency:{old}:{new}", action=Permission.AUDIT_READ)
    proof = StoredTree(db.session, new).consistency_proof(old, new)
    _audited(actor, Permission.AUDIT_READ, f"audit:consistency:{old}:{new}")
    return {"old": old, "new": new, "proof": proof}


def locate_event(actor: Actor, event: str) -> dict[str, Any]:
    """Where the event whose bytes hash to ``event`` (a receipt's ``event``) stands in the log."""
    resource = f"audit:event:{event[:64]}"
    if not EVENT_HASH.fullmatch(event):
        raise InvalidError("an event is named by the lowercase hex SHA-256 of its bytes",
                           errors={"path": {"event": ["64 lowercase hexadecimal digits"]}}, reason="invalid_hash",
                               resource=resource, action=Permission.AUDIT_READ)
    found = db.session.execute(
        select(AuditEvent.id, AuditLeaf.seq).outerjoin(AuditLeaf, AuditLeaf.event_id == AuditEvent.id)
        .where(AuditEvent.sha256 == event).order_by(AuditLeaf.seq.is_(None), AuditLeaf.seq).limit(1)).first()
    if found is None:
        raise NotFoundError("no committed event has these bytes", resource=resource, action=Permission.AUDIT_READ)
    seq = found.seq
    covered = seq is not None and (db.session.scalar(select(func.max(AuditCheckpoint.tree_size))) or 0) > seq
    status = "pending" if seq is None else "checkpointed" if covered else "sequenced"
    _audited(actor, Permission.AUDIT_READ, resource)
    return {"event": event, "status": status, "seq": seq,
            "proof": f"/api/v1/audit/events/{seq}/proof" if covered else None}
