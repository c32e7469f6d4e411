"""Tables of the changes feed and the webhook outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow


class AgencyEvent(Base):
    """One entry of an agency's changes feed: thin (ids, type, status), never case data.

    Rows of one agency are inserted under a per-agency lock held to commit, so they commit in id
    order and a poller resuming after an id never misses one.
    """

    __tablename__ = "agency_events"
    __table_args__ = (Index("ix_agency_events_agency_id", "agency_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    #: e.g. ``referral.requested``, ``referral.status-changed``, ``transfer.requested``.
    type: Mapped[str] = mapped_column(String(40))
    #: ``referral:ID``, ``transfer:ID``.
    resource: Mapped[str] = mapped_column(String(80))
    status: Mapped[str | None] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Base):
    """The one URL an agency receives webhooks at."""

    __tablename__ = "webhook_endpoints"

    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """An outbox row: a feed event to deliver to its agency's endpoint, written with the change itself."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
                      Index("ix_webhook_deliveries_agency", "agency_id", "id"))

    #: The Standard Webhooks ``webhook-id``: the same on every retry, so receivers dedupe by it.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("agency_events.id"))
    #: ``pending``, ``delivered`` or ``dead`` (retries exhausted).
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: A deliverer holds the row until then; one that dies mid-send lets it go by itself.
    leased_until: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(40))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookAttempt(Base):
    """One try to deliver: the agency's delivery log."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    #: A code, never a body or an address: ``timeout``, ``refused_address``, ``redirect``, ``http_error`` …
    error: Mapped[str | None] = mapped_column(String(40))
    duration_ms: Mapped[int] = mapped_column(Integer)
