"""Tables of the directory."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow
from ..vocabulary import codes

#: Kinds of agency (the vocabulary's ``agency_kind``).
KINDS = tuple(codes("agency_kind"))
#: Belarus's oblasts and Minsk city (the vocabulary's ``oblast``).
REGIONS = tuple(codes("oblast"))


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
    #: Where the agency receives people (a shelter's address), sealed by the keyring: shown only to
    #: the agency itself and to agencies whose referral it has accepted (``directory.address_for``).
    address_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)


class AgencyService(Base):
    """A service an agency offers: where, for whom, and how many places it has now."""

    __tablename__ = "agency_services"

    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    #: A code of ``referrals.rules.SERVICES``.
    service: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: Oblasts it is offered in (codes of ``REGIONS``); empty means all the agency's regions.
    regions: Mapped[list[str]] = mapped_column(default=list)
    #: Eligibility: CTDC age bands and sexes served; empty means anyone.
    age_bands: Mapped[list[str]] = mapped_column(default=list)
    sexes: Mapped[list[str]] = mapped_column(default=list)
    #: Places in all, and free now (``None``: not counted, e.g. legal aid).
    capacity: Mapped[int | None] = mapped_column(Integer)
    vacancies: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
