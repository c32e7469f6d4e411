"""Tables of referrals: the current state, and every signed event that made it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow


class Referral(Base):
    """One agency asking another to do one thing for one person. Its status is its last event's."""

    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_to_updated", "to_agency", "updated_at", "id"),
        Index("ix_referrals_from_updated", "from_agency", "updated_at", "id"),
        Index("ix_referrals_form_to", "form_id", "to_agency"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    form_id: Mapped[str] = mapped_column(ForeignKey("forms.id"))
    from_agency: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    to_agency: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    #: ``identification`` or ``assistance``.
    purpose: Mapped[str] = mapped_column(String(20))
    #: Codes of ``rules.SERVICES``; empty for identification.
    services: Mapped[list[str]]
    priority: Mapped[str] = mapped_column(String(10))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="requested")
    #: Bumped by every event: the ETag.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    #: Set when a user sent it although consent did not cover it: the reason code.
    consent_override: Mapped[str | None] = mapped_column(String(40))
    #: The sensitivity classes the sender itself could see, when it was not the form's owner: the
    #: recipient never sees more than that (data goes no further than the sender saw).
    disclosure_cap: Mapped[list[str] | None]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferralEvent(Base):
    """A signed, immutable event of a referral: its creation or a status change.

    The signed body is kept sealed under the form's data key (it may hold a note or a reason), so
    a reader who opens it can verify ``signature`` over its canonical form with the signer's key.
    """

    __tablename__ = "referral_events"
    __table_args__ = (UniqueConstraint("referral_id", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.id"), index=True)
    #: 1 for the creation, then one more per status change.
    sequence: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    #: ``client:ID`` or ``user:NAME``.
    actor: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    body_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[str] = mapped_column(Text)
    signed_kid: Mapped[str] = mapped_column(String(200))
    #: Hex SHA-256 of the canonical signed body.
    sha256: Mapped[str] = mapped_column(String(64))
    #: The id of this event's audit record, as in its receipt.
    audit_event_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Transfer(Base):
    """The agency leading a case hands the lead to another, which accepts or declines (not a referral)."""

    __tablename__ = "transfers"
    __table_args__ = (Index("ix_transfers_form", "form_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    form_id: Mapped[str] = mapped_column(ForeignKey("forms.id"))
    from_agency: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    to_agency: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: ``requested``, then ``accepted``, ``declined`` or ``cancelled``.
    status: Mapped[str] = mapped_column(String(20), default="requested")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str] = mapped_column(String(40))
    requested_by: Mapped[str] = mapped_column(String(200))
    request_signature: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision_signature: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
