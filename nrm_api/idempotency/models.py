"""The idempotency table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow


class IdempotencyRecord(Base):
    """A write's first result, kept per principal and key for at least 24 hours (48 in fact)."""

    __tablename__ = "idempotency_keys"

    #: ``client:ID`` or ``user:NAME``: keys are per principal.
    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: What the request was: method, path and SHA-256 of its body.
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: 201 when the first write created its record, else 200 (the API's status, as rows always held it).
    status_code: Mapped[int] = mapped_column(Integer)
    #: The first result's body, stored in the same transaction as the work it answers.
    response: Mapped[dict[str, Any]]
    #: The record's ``ETag`` as of the first result; rows from before issue 10 also hold its ``Location``.
    headers: Mapped[dict[str, str]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
