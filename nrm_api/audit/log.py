"""The live log in the database: sequencing, verification, proofs and bundle export."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from contextlib import closing
from typing import IO, Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from ..crypto.signatures import public_key_bytes
from ..extensions import keyring, settings
from . import bundle, origin, sequencer
from .models import AuditCheckpoint, AuditEvent, AuditLeaf, AuditQueue
from .tree import StoredTree
from .verify import Entry, Report, verify

#: The columns an auditor filters on, each checked against the hashed bytes.
COLUMNS = ("actor", "agency", "action", "resource", "outcome", "reason", "request_id", "client_request_id",
           "client_address", "fields", "count")


class ColumnMismatch(Exception):
    """A queried column says something other than the event's hashed bytes."""

    def __init__(self, seq: int, column: str) -> None:
        super().__init__(f"column {column} of position {seq} differs from the hashed event")
        self.seq = seq
        self.column = column


def signer() -> sequencer.Signer:
    """The log's signer in the current app, with the configured origin (the sequencer keeps the stored one)."""
    return sequencer.Signer(settings().audit_origin, keyring().signing_key)


def log_origin(session: Session) -> str:
    """The origin the log was created with, which checkpoints and positions are verified against."""
    return origin.current(session, settings().audit_origin)


def public_keys() -> list[dict[str, str]]:
    """Every key that ever signed the log (the keyring keeps old versions)."""
    return [key.public_jwk() for key in keyring().signing_keys]


def public_key(jwk: dict[str, str]) -> bytes:
    """The raw bytes of one of the log's public keys."""
    return public_key_bytes(jwk["x"])


def entries(session: Session, check_columns: bool = False) -> Generator[Entry, None, None]:
    """Every position in order, streamed; with ``check_columns``, each column checked against its bytes."""
    query = (select(AuditLeaf.seq, AuditLeaf.signature, AuditEvent)
             .join(AuditEvent, AuditEvent.id == AuditLeaf.event_id).order_by(AuditLeaf.seq)
             .execution_options(yield_per=2000))
    result = session.execute(query)
    try:
        for seq, signature, event in result:
            if check_columns:
                _check_columns(seq, event)
            yield Entry(seq, event.body, signature)
            session.expunge(event)
    finally:
        result.close()


def _check_columns(seq: int, event: AuditEvent) -> None:
    try:
        content = json.loads(event.body)
    except ValueError:
        return  # the verifier names unreadable bytes itself
    for column in COLUMNS:
        if getattr(event, column) != content.get(column):
            raise ColumnMismatch(seq, column)
    if event.occurred_at.isoformat(timespec="microseconds") != content.get("occurred_at"):
        raise ColumnMismatch(seq, "occurred_at")


def checkpoint_notes(session: Session) -> list[str]:
    """Every checkpoint, oldest first."""
    return list(session.scalars(select(AuditCheckpoint.note).order_by(AuditCheckpoint.tree_size)))


def verify_live(session: Session) -> Report:
    """Verify the stored log, its columns included."""
    trusted = [public_key(key) for key in public_keys()]
    try:
        with closing(entries(session, check_columns=True)) as stream:
            report = verify(stream, checkpoint_notes(session), log_origin(session), trusted)
    except ColumnMismatch as mismatch:
        report = Report(False, mismatch.seq, None, first_invalid_seq=mismatch.seq, problem="altered",
                        detail=str(mismatch))
    report.extra["pending"] = int(session.scalar(select(func.count()).select_from(AuditQueue)) or 0)
    return _account_for_every_event(session, report)


#: How many unaccounted events a report names (by hash); the count is always whole.
NAMED_UNSEQUENCED = 20


def _account_for_every_event(session: Session, report: Report) -> Report:
    """Fail the report for any committed event with neither a position nor a queue entry: one made to vanish."""
    lost = (select(AuditEvent.sha256)
            .where(~exists().where(AuditLeaf.event_id == AuditEvent.id),
                   ~exists().where(AuditQueue.event_id == AuditEvent.id)))
    count = int(session.scalar(select(func.count()).select_from(lost.subquery())) or 0)
    report.extra["unsequenced"] = count
    if count:
        named = list(session.scalars(lost.order_by(AuditEvent.id).limit(NAMED_UNSEQUENCED)))
        report.extra["unsequenced_events"] = named
        if report.valid:
            report.valid, report.problem = False, "unsequenced"
            report.detail = (f"{count} committed event(s) have neither a position nor a queue entry: "
                             "their queue entries were removed before they were sequenced")
    return report


def export_bundle(session: Session, out: IO[str]) -> int:
    """Write the whole log as a bundle; return the number of events."""
    return bundle.write(out, log_origin(session), public_keys(), checkpoint_notes(session), entries(session))


def bundle_lines(session: Session) -> Iterator[str]:
    """The whole log as a bundle, line by line, for a streamed download."""
    return bundle.as_lines(log_origin(session), public_keys(), checkpoint_notes(session), entries(session))


def inclusion(session: Session, seq: int, tree_size: int | None = None) -> dict[str, Any] | None:
    """An inclusion proof of position ``seq`` against a checkpoint (the newest by default)."""
    query = select(AuditCheckpoint).where(AuditCheckpoint.tree_size > seq)
    if tree_size is not None:
        query = query.where(AuditCheckpoint.tree_size == tree_size)
    checkpoint = session.scalars(query.order_by(AuditCheckpoint.tree_size.desc()).limit(1)).first()
    leaf = session.get(AuditLeaf, seq)
    if checkpoint is None or leaf is None:
        return None
    event = session.get(AuditEvent, leaf.event_id)
    proof = StoredTree(session, checkpoint.tree_size).inclusion_proof(seq, checkpoint.tree_size)
    return {"seq": seq, "leaf_index": seq, "tree_size": checkpoint.tree_size, "leaf_hash": leaf.leaf_hash,
            "proof": proof, "checkpoint": checkpoint.note, "event": event.body if event else b""}
