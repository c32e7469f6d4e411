"""The sequencer: gives committed events gapless positions and signs checkpoints.

One run is one transaction under a lock nobody waits for (on PostgreSQL the one row of
``audit_sequencer_lock``, taken with ``SKIP LOCKED``, which only the sequencer's role may lock; on
SQLite the database's single writer): it takes queued events in the order their rows were drawn
— just before each commit — appends them to the Merkle tree, signs each position, and, when due,
signs a checkpoint after checking it is consistent with the previous one. A crash anywhere rolls
the whole run back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import ARRAY, BigInteger, Row, any_, bindparam, delete, exists, func, insert, select
from sqlalchemy.orm import Session

from ..crypto.keyring import SigningKey
from ..crypto.signatures import public_key_bytes
from ..database import Base, utcnow
from . import merkle, notes, origin
from .models import AuditCheckpoint, AuditEvent, AuditLeaf, AuditNode, AuditQueue, AuditSequencerLock
from .tree import StoredTree

LOCK_ROW = 1
LEAF_COLUMNS = ("seq", "event_id", "leaf_hash", "signature")
NODE_COLUMNS = ("level", "index", "hash")
BATCH = 1000
CHECKPOINT_EVERY = 1000
CHECKPOINT_AFTER = timedelta(seconds=60)
log = logging.getLogger(__name__)


class LogIntegrityError(RuntimeError):
    """The stored log no longer extends its last checkpoint: nothing more is signed."""


@dataclass(frozen=True)
class Signer:
    """The log's identity: its origin line and the key that signs positions and checkpoints."""

    origin: str
    key: SigningKey

    @property
    def public(self) -> bytes:
        """The raw public key."""
        return public_key_bytes(self.key.public_jwk()["x"])


def size(session: Session) -> int:
    """Number of positions given so far."""
    return int(session.scalar(select(func.coalesce(func.max(AuditLeaf.seq) + 1, 0))) or 0)


def run(session: Session, signer: Signer, *, force_checkpoint: bool = False) -> int:
    """Sequence everything queued, batch by batch, and checkpoint when due; return how many."""
    total = 0
    while True:
        done = _run_once(session, signer, force_checkpoint)
        if done is None:
            return total
        taken, sequenced = done
        total += sequenced
        if taken < BATCH:
            return total


def _run_once(session: Session, signer: Signer, force_checkpoint: bool) -> tuple[int, int] | None:
    """One batch in one transaction: how many queue entries it took, and how many of them it sequenced."""
    try:
        if not _lock(session):
            session.rollback()
            return None
        signer = replace(signer, origin=origin.fix(session, signer.origin))
        start = size(session)
        taken, current = _sequence_batch(session, signer, start)
        _checkpoint_if_due(session, signer, force_checkpoint, current)
        session.commit()
        return taken, current - start
    except BaseException:
        session.rollback()
        raise


def _lock(session: Session) -> bool:
    """Take the run's lock, or say another run holds it; a role without the grant gets permission denied."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    query = select(AuditSequencerLock.id).where(AuditSequencerLock.id == LOCK_ROW).with_for_update(skip_locked=True)
    return session.scalar(query) is not None


def _sequence_batch(session: Session, signer: Signer, start: int) -> tuple[int, int]:
    """Sequence the oldest queued events; return how many queue entries were taken and the new size.

    A queue entry for an event that already has a position (the web role may insert entries) is
    dropped, not sequenced twice: one stray row must not stop the log. Each is found as the batch
    reaches it, so a run costs the batch, not the whole queue.
    """
    taken = session.execute(
        select(AuditQueue.event_id, AuditEvent.body, exists().where(AuditLeaf.event_id == AuditQueue.event_id))
        .join(AuditEvent, AuditEvent.id == AuditQueue.event_id).order_by(AuditQueue.event_id).limit(BATCH)
    ).all()
    queued = [(event_id, body) for event_id, body, sequenced in taken if not sequenced]
    if not queued:
        _dequeue(session, taken)
        return len(taken), start
    tree = StoredTree(session, start)
    sign, log_origin = signer.key.sign, signer.origin
    leaves = []
    for event_id, body in queued:
        leaf = merkle.leaf_hash(body)
        seq = tree.size
        leaves.append((seq, event_id, leaf, sign(notes.leaf_message(log_origin, seq, leaf))))
        tree.append(leaf)
    insert_rows(session, AuditLeaf, LEAF_COLUMNS, leaves)
    insert_rows(session, AuditNode, NODE_COLUMNS, tree.new_nodes)
    _dequeue(session, taken)
    return len(taken), tree.size


def _dequeue(session: Session, taken: Sequence[Row[int, bytes, bool]]) -> None:
    """Remove the queue entries a batch took: on PostgreSQL as one array, not a thousand parameters to parse."""
    if not taken:
        return
    ids = [row[0] for row in taken]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(delete(AuditQueue).where(AuditQueue.event_id == any_(bindparam("ids", ids, ARRAY(BigInteger)))))
    else:
        session.execute(delete(AuditQueue).where(AuditQueue.event_id.in_(ids)))


def insert_rows(session: Session, model: type[Base], columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Insert ``rows`` in the session's transaction: by ``COPY`` on PostgreSQL, one executemany elsewhere.

    A batch is a thousand leaves and about as many nodes; psycopg's executemany would send one
    ``INSERT`` for each row, ``COPY`` sends them all as one stream.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(model), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    quote = connection.dialect.identifier_preparer.quote
    statement = f"COPY {quote(model.__tablename__)} ({', '.join(map(quote, columns))}) FROM STDIN"
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    """The newest checkpoint."""
    return session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)).first()


def _checkpoint_if_due(session: Session, signer: Signer, force: bool, current: int) -> None:
    last = latest_checkpoint(session)
    last_size = last.tree_size if last else 0
    if current == 0 or current == last_size:
        return
    due = current - last_size >= CHECKPOINT_EVERY or last is None or force
    if last is not None and utcnow() - last.created_at >= CHECKPOINT_AFTER:
        due = True
    if not due:
        return
    tree = StoredTree(session, current)
    root = tree.root()
    if last is not None:
        proof = tree.consistency_proof(last.tree_size, current)
        try:
            merkle.verify_consistency(last.tree_size, current, last.root_hash, root, proof)
        except merkle.ProofError:
            log.critical("audit log does not extend its checkpoint at %d: not signing", last.tree_size)
            raise LogIntegrityError(f"the log no longer extends its checkpoint at size {last.tree_size}") from None
    note = notes.sign_checkpoint(signer.origin, current, root, signer.public, signer.key.sign)
    session.add(AuditCheckpoint(tree_size=current, root_hash=root, note=note))
    session.flush()
