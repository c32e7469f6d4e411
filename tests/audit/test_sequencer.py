"""The sequencer: gapless positions, a signed Merkle tree, checkpoints every 1,000 events or 60 s."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from nrm_api.audit import log as audit_log
from nrm_api.audit import merkle, notes, sequencer
from nrm_api.audit.models import AuditCheckpoint, AuditEvent, AuditLeaf, AuditNode, AuditQueue
from nrm_api.audit.tree import StoredTree, frontier_keys
from nrm_api.crypto.keyring import SigningKey
from nrm_api.crypto.signatures import verify_ed25519
from nrm_api.extensions import db
from tests.audit.helpers import add_events, sequence


def _trusted() -> list[bytes]:
    return [audit_log.public_key(key) for key in audit_log.public_keys()]


def test_committed_events_get_gapless_positions_and_signed_leaves(app: Flask) -> None:
    sequence()
    base = sequencer.size(db.session)
    add_events(7)
    assert sequence() == 7
    leaves = list(db.session.scalars(select(AuditLeaf).where(AuditLeaf.seq >= base).order_by(AuditLeaf.seq)))
    assert [leaf.seq for leaf in leaves] == list(range(base, base + 7))
    assert db.session.scalar(select(func.count()).select_from(AuditQueue)) == 0
    origin = audit_log.signer().origin
    for leaf in leaves:
        message = notes.leaf_message(origin, leaf.seq, leaf.leaf_hash)
        assert any(verify_ed25519(key, message, leaf.signature) for key in _trusted())
    assert sequence() == 0


def test_rolled_back_events_leave_no_gap(app: Flask) -> None:
    from nrm_api.audit import events
    from tests.audit.helpers import WRITER

    sequence()
    base = sequencer.size(db.session)
    events.record(WRITER, "test:event", "allowed")
    db.session.rollback()
    add_events(2)
    sequence()
    assert list(db.session.scalars(select(AuditLeaf.seq).where(AuditLeaf.seq >= base))) == [base, base + 1]


def test_a_checkpoint_is_signed_every_thousand_events(app: Flask) -> None:
    add_events(1)
    sequence(checkpoint=True)
    start = sequencer.size(db.session)
    add_events(2500)
    sequence()
    sizes = list(db.session.scalars(select(AuditCheckpoint.tree_size).where(AuditCheckpoint.tree_size > start)))
    assert sizes == [start + 1000, start + 2000]
    checkpoint = sequencer.latest_checkpoint(db.session)
    assert checkpoint is not None
    opened = notes.open_checkpoint(checkpoint.note, audit_log.signer().origin, _trusted())
    assert opened.root == StoredTree(db.session, opened.size).root()


def test_a_checkpoint_is_signed_after_sixty_seconds(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    add_events(1)
    sequence(checkpoint=True)
    add_events(3)
    sequence()
    latest = sequencer.latest_checkpoint(db.session)
    assert latest is not None and latest.tree_size < sequencer.size(db.session)
    monkeypatch.setattr(sequencer, "CHECKPOINT_AFTER", timedelta(0))
    add_events(1)
    sequence()
    latest = sequencer.latest_checkpoint(db.session)
    assert latest is not None and latest.tree_size == sequencer.size(db.session)


def test_stored_tree_matches_a_tree_built_in_memory(app: Flask) -> None:
    add_events(37)
    sequence(checkpoint=True)
    size = sequencer.size(db.session)
    memory = merkle.MemoryTree()
    for leaf in db.session.scalars(select(AuditLeaf.leaf_hash).order_by(AuditLeaf.seq)):
        memory.append(leaf)
    stored = StoredTree(db.session, size)
    assert stored.root() == memory.root()
    for old in (1, size // 3, size - 1):
        proof = stored.consistency_proof(old, size)
        merkle.verify_consistency(old, size, memory.root(old), memory.root(), proof)


def test_no_checkpoint_is_signed_over_a_rewritten_tree(app: Flask, backend: str) -> None:
    add_events(4)
    sequence(checkpoint=True)
    level, index = frontier_keys(sequencer.size(db.session))[0]
    _without_triggers(backend, "audit_leaves", "audit_nodes")
    if level == 0:
        db.session.execute(text("UPDATE audit_leaves SET leaf_hash = :h WHERE seq = :i"), {"h": bytes(32), "i": index})
    else:
        db.session.execute(text('UPDATE audit_nodes SET hash = :h WHERE level = :l AND "index" = :i'),
                           {"h": bytes(32), "l": level, "i": index})
    before = db.session.scalar(select(func.count()).select_from(AuditCheckpoint))
    add_events(1)
    with pytest.raises(sequencer.LogIntegrityError):
        sequence(checkpoint=True)
    assert db.session.scalar(select(func.count()).select_from(AuditCheckpoint)) == before


def _without_triggers(backend: str, *tables: str) -> None:
    """What a rogue administrator does first (undone with the test's transaction)."""
    for table in tables:
        if backend == "postgresql":
            db.session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            for name in db.session.scalars(text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"), {"t": table}):
                db.session.execute(text(f"DROP TRIGGER {name}"))


class _FailingKey(SigningKey):
    """A real key that stops signing after a few positions: a crash in the middle of a run."""

    def __init__(self, key: SigningKey, after: int) -> None:
        super().__init__(key.kid, key.private)
        object.__setattr__(self, "left", after)

    def sign(self, message: bytes) -> bytes:
        if self.left == 0:  # type: ignore[attr-defined]
            raise RuntimeError("crash while sequencing")
        object.__setattr__(self, "left", self.left - 1)  # type: ignore[attr-defined]
        return super().sign(message)


def test_a_crash_in_the_middle_of_a_run_leaves_nothing_half_done(app: Flask) -> None:
    sequence()
    base = sequencer.size(db.session)
    add_events(6)
    signer = audit_log.signer()
    broken = sequencer.Signer(signer.origin, _FailingKey(signer.key, after=3))
    with pytest.raises(RuntimeError, match="crash while sequencing"):
        sequencer.run(db.session, broken)
    assert sequencer.size(db.session) == base
    assert db.session.scalar(select(func.count()).select_from(AuditQueue)) == 6
    assert sequence() == 6
    assert list(db.session.scalars(select(AuditLeaf.seq).where(AuditLeaf.seq >= base))) == list(range(base, base + 6))
    assert audit_log.verify_live(db.session).valid


@pytest.mark.parametrize("batch", [1, 3, sequencer.BATCH], ids=["one at a time", "batches of three", "one batch"])
def test_a_batch_gives_the_positions_and_tree_that_one_at_a_time_would(app: Flask, monkeypatch: pytest.MonkeyPatch,
                                                                        batch: int) -> None:
    add_events(2, label="before")
    sequence()
    base = sequencer.size(db.session)
    add_events(5, label="batch")
    stray = db.session.scalar(select(AuditLeaf.event_id).where(AuditLeaf.seq == base - 1))
    db.session.add(AuditQueue(event_id=stray))  # a queue entry for an event with a position, mid-queue
    db.session.commit()
    add_events(5, label="after")
    monkeypatch.setattr(sequencer, "BATCH", batch)
    assert sequence(checkpoint=True) == 10
    rows = db.session.execute(select(AuditLeaf.seq, AuditLeaf.event_id, AuditLeaf.leaf_hash, AuditEvent.body)
                              .join(AuditEvent, AuditEvent.id == AuditLeaf.event_id).order_by(AuditLeaf.seq)).all()
    queued_in_order = sorted(event_id for _, event_id, _, _ in rows[base:])
    assert [row.seq for row in rows] == list(range(base + 10))
    assert [row.event_id for row in rows[base:]] == queued_in_order  # commit (row id) order, the stray skipped
    assert all(row.leaf_hash == merkle.leaf_hash(row.body) for row in rows)
    memory = merkle.MemoryTree()
    for row in rows:
        memory.append(row.leaf_hash)
    assert StoredTree(db.session, memory.size).root() == memory.root()
    for level, index, value in db.session.execute(select(AuditNode.level, AuditNode.index, AuditNode.hash)):
        assert value == memory.node(level, index), (level, index)
    assert db.session.scalar(select(func.count()).select_from(AuditQueue)) == 0
    checkpoint = sequencer.latest_checkpoint(db.session)
    assert checkpoint is not None and (checkpoint.tree_size, checkpoint.root_hash) == (memory.size, memory.root())
    assert audit_log.verify_live(db.session).valid


def test_a_queue_of_nothing_but_strays_is_emptied(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    add_events(4, label="strays")
    sequence()
    base = sequencer.size(db.session)
    for event_id in db.session.scalars(select(AuditLeaf.event_id).where(AuditLeaf.seq >= base - 4)):
        db.session.add(AuditQueue(event_id=event_id))
    db.session.commit()
    add_events(1, label="last")
    monkeypatch.setattr(sequencer, "BATCH", 2)  # whole batches of strays before the one event
    assert sequence() == 1
    assert sequencer.size(db.session) == base + 1
    assert db.session.scalar(select(func.count()).select_from(AuditQueue)) == 0
