"""The audit tables: events, their positions, the Merkle tree and checkpoints. All insert-only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow

OUTCOMES = ("allowed", "denied", "failed")


class AuditEvent(Base):
    """One audited access. Every column is also inside ``body``, the bytes that are hashed."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_actor_id", "actor", "id"),
        Index("ix_audit_events_resource_id", "resource", "id"),
        Index("ix_audit_events_action_id", "action", "id"),
    )

    #: Row identity only: never a position in the log (rolled-back inserts leave gaps).
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    #: ``client:ID``, ``user:NAME``, ``cli:OSUSER`` or ``anonymous``.
    actor: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str | None] = mapped_column(String(64), index=True)
    #: A ``resource:action`` value of ``AuditAction`` or ``Permission``.
    action: Mapped[str] = mapped_column(String(64))
    #: ``TYPE:ID`` of what was accessed; identifiers only, never personal values.
    resource: Mapped[str | None] = mapped_column(String(200))
    #: Names of the fields disclosed by a read.
    fields: Mapped[list[str]] = mapped_column(default=list)
    outcome: Mapped[str] = mapped_column(String(16))
    #: Machine-readable reason of a refusal, e.g. ``bad_signature``.
    reason: Mapped[str | None] = mapped_column(String(64))
    #: The service's own id of the request.
    request_id: Mapped[str | None] = mapped_column(String(128))
    #: The ``X-Request-Id`` the client sent, bounded and sanitised: its own correlation, never trusted as ours.
    client_request_id: Mapped[str | None] = mapped_column(String(128))
    client_address: Mapped[str | None] = mapped_column(String(64))
    #: RFC 8785 canonical JSON of the event: what the log hashes.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    #: Lowercase hex SHA-256 of ``body``: what a receipt names (``event``), looked up by auditors.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: How many like refusals one aggregated event stands for; null for a single access.
    count: Mapped[int | None] = mapped_column(Integer)


class AuditLeaf(Base):
    """A position in the log, given by the sequencer: gapless, in commit order, insert-only."""

    __tablename__ = "audit_leaves"

    #: The position, from 0; never a database sequence value.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"), unique=True)
    #: ``SHA-256(0x00 ‖ event body)``.
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    #: The service's Ed25519 signature of (log, position, leaf hash): pins a fault to its position.
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class AuditNode(Base):
    """The hash of a perfect subtree of ``2**level`` leaves (level ≥ 1), insert-only."""

    __tablename__ = "audit_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                       autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCheckpoint(Base):
    """A signed checkpoint (C2SP signed note) of the log at ``tree_size`` leaves, insert-only."""

    __tablename__ = "audit_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                           autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditQueue(Base):
    """Committed events waiting for a position; the sequencer empties it."""

    __tablename__ = "audit_queue"

    event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"), primary_key=True, autoincrement=False)


class AuditLog(Base):
    """The log's identity, one row, fixed when the log is created: its origin never follows the configuration."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    #: The C2SP origin line of every checkpoint and position signature of this log.
    origin: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditSequencerLock(Base):
    """One row the sequencer locks for its run; only the sequencer's role may lock it (PostgreSQL)."""

    __tablename__ = "audit_sequencer_lock"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)


class AuditRefusalTally(Base):
    """Unauthenticated refusals of one address, action and reason since ``window_started_at``, not yet logged.

    The first of a window is logged at once; the repeats only counted here, then logged as one
    event carrying ``count`` when the next one comes after the window or a later refusal sweeps it.
    """

    __tablename__ = "audit_refusal_tallies"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(index=True)
    #: Repeats after the first, which was logged on its own.
    count: Mapped[int] = mapped_column(Integer, default=0)
