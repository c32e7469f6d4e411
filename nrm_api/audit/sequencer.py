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
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.orm import Session

from ..crypto.keyring import SigningKey
from ..crypto.signatures import public_key_bytes
from ..database import utcnow
from . import merkle, notes, origin
from .models import AuditCheckpoint, AuditEvent, AuditLeaf, AuditNode, AuditQueue, AuditSequencerLock
from .tree import StoredTree

LOCK_ROW = 1
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
        total += done
        if done < BATCH:
            return total


def _run_once(session: Session, signer: Signer, force_checkpoint: bool) -> int | None:
    try:
        if not _lock(session):
            session.rollback()
            return None
        signer = replace(signer, origin=origin.fix(session, signer.origin))
        done = _sequence_batch(session, signer)
        _checkpoint_if_due(session, signer, force_checkpoint)
        session.commit()
        return done
    except BaseException:
        session.rollback()
        raise


def _lock(session: Session) -> bool:
    """Take the run's lock, or say another run holds it; a role without the grant gets permission denied."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    query = select(AuditSequencerLock.id).where(AuditSequencerLock.id == LOCK_ROW).with_for_update(skip_locked=True)
    return session.scalar(query) is not None


def _sequence_batch(session: Session, signer: Signer) -> int:
    # a queue entry for an event that already has a position (the web role may insert entries) is
    # dropped, not sequenced twice: one stray row must not stop the log
    session.execute(delete(AuditQueue).where(exists().where(AuditLeaf.event_id == AuditQueue.event_id)))
    queued = session.execute(
        select(AuditQueue.event_id, AuditEvent.body).join(AuditEvent, AuditEvent.id == AuditQueue.event_id)
        .order_by(AuditQueue.event_id).limit(BATCH)
    ).all()
    if not queued:
        return 0
    tree = StoredTree(session, size(session))
    leaves = []
    for event_id, body in queued:
        leaf = merkle.leaf_hash(body)
        seq = tree.size
        leaves.append({"seq": seq, "event_id": event_id, "leaf_hash": leaf,
                       "signature": signer.key.sign(notes.leaf_message(signer.origin, seq, leaf))})
        tree.append(leaf)
    session.execute(insert(AuditLeaf), leaves)
    if tree.new_nodes:
        session.execute(insert(AuditNode), tree.new_nodes)
    session.execute(delete(AuditQueue).where(AuditQueue.event_id.in_([row.event_id for row in queued])))
    return len(queued)


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    """The newest checkpoint."""
    return session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)).first()


def _checkpoint_if_due(session: Session, signer: Signer, force: bool) -> None:
    current = size(session)
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
