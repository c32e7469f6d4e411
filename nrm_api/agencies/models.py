"""Tables of the directory."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow

KINDS = ("authority", "international", "ngo")
#: Belarus's oblasts and Minsk city, as the vocabulary names them.
REGIONS = ("Brest", "Vitebsk", "Gomel", "Grodno", "Minsk", "Mogilev", "MinskCity")


class Agency(Base):
    """An organisation of the network: an authority, an international organisation or an NGO."""

    __tablename__ = "agencies"
    __table_args__ = (CheckConstraint("kind IN ('authority', 'international', 'ngo')", name="kind"),)

    #: Short stable identifier, e.g. ``moi``.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: ``authority`` (Ministry of the Interior bodies), ``international`` (IOM) or ``ngo``.
    kind: Mapped[str] = mapped_column(String(16))
    name_en: Mapped[str] = mapped_column(String(300))
    name_ru: Mapped[str] = mapped_column(String(300))
    name_be: Mapped[str] = mapped_column(String(300))
    #: Oblasts the agency works in (codes of ``REGIONS``).
    regions: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
