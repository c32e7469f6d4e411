"""Tables of forms: every sensitive value stored only as ciphertext under the form's own data key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow
from ..vocabulary import codes

#: A form's statuses (the vocabulary's ``form_status``).
STATUSES = tuple(codes("form_status"))


class Form(Base):
    """An identification form: its current state and non-identifying summary."""

    __tablename__ = "forms"
    __table_args__ = (Index("ix_forms_agency_created", "agency_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: The author's agency, which owns the form and its key.
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    #: The agency leading the case: the author, until it transfers the lead and another accepts.
    lead_agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The newest signed version of the document.
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: Bumped by every change (version, decision, withdrawal): the ETag.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="active")
    #: The public ``statistics`` section: what lists show.
    summary: Mapped[dict[str, Any]]
    is_child: Mapped[bool]
    consent_withdrawn_at: Mapped[datetime | None]
    #: The signed withdrawal: its (public) body, signature and key id.
    consent_withdrawal: Mapped[dict[str, Any] | None]
    shredded_at: Mapped[datetime | None]


class FormKey(Base):
    """The form's data key, wrapped by a KEK of the keyring. Deleting the wrap shreds the form."""

    __tablename__ = "form_keys"

    form_id: Mapped[str] = mapped_column(ForeignKey("forms.id"), primary_key=True)
    kek_version: Mapped[int] = mapped_column(Integer, index=True)
    #: ``None`` once crypto-shredded: the sealed fields are gone for good.
    wrapped_dek: Mapped[bytes | None] = mapped_column(LargeBinary)


class FormVersion(Base):
    """One signed version: its public part in clear, every other field sealed, and the author's signature."""

    __tablename__ = "form_versions"

    form_id: Mapped[str] = mapped_column(ForeignKey("forms.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    schema_version: Mapped[str] = mapped_column(String(8))
    #: The document without its sealed fields.
    public: Mapped[dict[str, Any]]
    #: ``{path: base64(nonce ‖ ciphertext)}``.
    sealed: Mapped[dict[str, str]]
    #: The author's detached JWS over the canonical document, as received.
    signature: Mapped[str] = mapped_column(Text)
    signed_kid: Mapped[str] = mapped_column(String(200))
    #: Who sent it: ``client:ID`` or ``user:NAME``.
    submitted_by: Mapped[str] = mapped_column(String(200))
    #: Hex SHA-256 of the canonical document.
    sha256: Mapped[str] = mapped_column(String(64))


class FormBlindIndex(Base):
    """A keyed hash of a normalised name and birth date: finds possible duplicates, reveals nothing."""

    __tablename__ = "form_blind_indexes"

    form_id: Mapped[str] = mapped_column(ForeignKey("forms.id"), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class FormDecision(Base):
    """An authority's identification decision, signed."""

    __tablename__ = "form_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[str] = mapped_column(ForeignKey("forms.id"), index=True)
    trafficking_status: Mapped[str] = mapped_column(String(40))
    #: The decision's note, sealed under the form's key (special category).
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    decided_by: Mapped[str] = mapped_column(String(200))
    signature: Mapped[str] = mapped_column(Text)
    signed_kid: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormDraft(Base):
    """A form being written: its author's agency only, never shared, unsigned, sealed like a form."""

    __tablename__ = "form_drafts"
    __table_args__ = (Index("ix_form_drafts_agency_updated", "agency_id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    public: Mapped[dict[str, Any]]
    sealed: Mapped[dict[str, str]]
    kek_version: Mapped[int] = mapped_column(Integer, index=True)
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    #: A draft of a new version of this form (made from it at ``amends_revision``), or none: a new form.
    amends_form_id: Mapped[str | None] = mapped_column(ForeignKey("forms.id"))
    amends_revision: Mapped[int | None] = mapped_column(Integer)
