"""The audit table: insert-only. Positions and the Merkle tree are the sequencer's (issue 3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base

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
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_address: Mapped[str | None] = mapped_column(String(64))
    #: RFC 8785 canonical JSON of the event: what the log hashes.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    #: Lowercase hex SHA-256 of ``body``.
    sha256: Mapped[str] = mapped_column(String(64))
