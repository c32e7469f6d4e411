"""The idempotency table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow


class IdempotencyRecord(Base):
    """A POST's first answer, kept per principal and key for at least 24 hours (48 in fact)."""

    __tablename__ = "idempotency_keys"

    #: ``client:ID`` or ``user:NAME``: keys are per principal.
    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: What the request was: method, path and SHA-256 of its body.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    #: The first answer, stored in the same transaction as the work it answers.
    response: Mapped[dict[str, Any]]
    headers: Mapped[dict[str, str]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
