"""A subject access report: what the network holds about one person, to whom it went, who saw it.

Gathers, for one form only: every signed version, decrypted for this purpose (the one place every
sealed field of every version is opened, audited ``form:subject-access`` with the fields opened);
its identification decisions; the referrals of it with their status history, and transfers of
the lead; and every audit event on the form's resources (``form:ID``, ``referral:ID`` of its
referrals, ``transfer:ID`` of its transfers), one row each. Nothing of another form is read.

The report goes to the person, or for a child (the form's child flag) to the legal
representative the form names. Rendering is the web layer's (``nrm_api.web.subject_access``); the
signature over the rendered bytes is ``sign``/``verify`` here: a detached JWS by the service's
Ed25519 key (``typ`` ``nrm-subject-access+jws``), kept in the document's last line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from ..agencies.models import Agency
from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..audit.models import AuditEvent
from ..crypto.jws import sign_service, verify_detached_by_service
from ..database import utcnow
from ..errors import Forbidden, NotFoundError
from ..extensions import db, keyring
from ..forms import sealing
from ..forms.models import Form, FormDecision, FormKey, FormVersion
from ..forms.rules import merge
from .models import Referral, ReferralEvent, Transfer

SIGNATURE_TYPE = "nrm-subject-access+jws"
#: The document's last line: the detached JWS over every byte before it.
SIGNATURE_LINE = re.compile(rb"\n<!-- nrm-api-signature: ([A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+) -->\n\Z")


@dataclass(frozen=True)
class Version:
    """One signed version of the form, every field opened."""

    number: int
    created_at: datetime
    submitted_by: str
    document: dict[str, Any]


@dataclass(frozen=True)
class Report:
    """Everything a subject access report shows, for one form."""

    form_id: str
    agency_id: str
    status: str
    created_at: datetime
    generated_at: datetime
    is_child: bool
    #: Who the report is addressed to: the person's name, or the legal representative's.
    addressee: str | None
    versions: list[Version]
    decisions: list[dict[str, Any]]
    referrals: list[dict[str, Any]]
    transfers: list[dict[str, Any]]
    accesses: list[dict[str, Any]] = field(default_factory=list)
    shredded: bool = False


def _name(document: dict[str, Any]) -> str | None:
    person = document.get("person") or {}
    parts = [person.get(key) for key in ("first_name_cyrillic", "second_name_cyrillic")]
    if not any(parts):
        parts = [person.get(key) for key in ("first_name", "second_name")]
    return " ".join(part for part in parts if part) or None


def resources_of(form_id: str) -> list[str]:
    """The audit log's resources that are this form: the form, its referrals, its transfers."""
    referrals = db.session.scalars(select(Referral.id).where(Referral.form_id == form_id))
    transfers = db.session.scalars(select(Transfer.id).where(Transfer.form_id == form_id))
    return [f"form:{form_id}", *(f"referral:{r}" for r in referrals), *(f"transfer:{t}" for t in transfers)]


def accesses(form_id: str) -> list[dict[str, Any]]:
    """Every audit event on the form's resources, oldest first."""
    wanted = resources_of(form_id)
    rows = db.session.scalars(select(AuditEvent).where(or_(AuditEvent.resource.in_(wanted)))
                              .order_by(AuditEvent.occurred_at, AuditEvent.id))
    return [{"id": row.id, "occurred_at": row.occurred_at, "agency": row.agency, "actor": row.actor,
             "action": row.action, "resource": row.resource, "fields": list(row.fields or []),
             "outcome": row.outcome, "reason": row.reason} for row in rows]


def gather(actor: Actor, form_id: str) -> Report:
    """Everything held about the person of ``form_id``; the decryption audited (``form:subject-access``).

    Not committed: the caller commits once the report is written.
    """
    form = db.session.get(Form, form_id)
    if form is None:
        raise NotFoundError("no such form", resource=f"form:{form_id}", action=AuditAction.FORM_SUBJECT_ACCESS)
    rows = list(db.session.scalars(select(FormVersion).where(FormVersion.form_id == form_id)
                                   .order_by(FormVersion.version)))
    shredded, opened_paths, versions = False, set(), []
    try:
        dek: bytes | None = sealing.open_key(db.session.get(FormKey, form_id))
    except sealing.ShreddedError:
        dek, shredded = None, True
    for row in rows:
        opened = sealing.open_paths(form, row, dek, sorted(row.sealed)) if dek is not None else {}
        opened_paths |= set(opened)
        versions.append(Version(row.version, row.created_at, row.submitted_by, merge(row.public, opened)))
    decisions = []
    for decision in db.session.scalars(select(FormDecision).where(FormDecision.form_id == form_id)
                                       .order_by(FormDecision.id)):
        shown: dict[str, Any] = {"trafficking_status": decision.trafficking_status, "agency": decision.agency_id,
                                 "decided_at": decision.created_at}
        if decision.note_sealed is not None and dek is not None:
            shown["note"] = sealing.open_value(dek, sealing.place(form, 0, "decision.note"), decision.note_sealed)
            opened_paths.add("decision.note")
        decisions.append(shown)
    referrals = []
    for referral in db.session.scalars(select(Referral).where(Referral.form_id == form_id)
                                       .order_by(Referral.created_at, Referral.id)):
        history = db.session.scalars(select(ReferralEvent).where(ReferralEvent.referral_id == referral.id)
                                     .order_by(ReferralEvent.sequence))
        referrals.append({"id": referral.id, "from_agency": referral.from_agency, "to_agency": referral.to_agency,
                          "purpose": referral.purpose, "services": list(referral.services),
                          "priority": referral.priority, "status": referral.status,
                          "created_at": referral.created_at,
                          "history": [{"status": event.status, "agency": event.agency_id, "actor": event.actor,
                                       "at": event.created_at} for event in history]})
    transfers = [{"id": t.id, "from_agency": t.from_agency, "to_agency": t.to_agency, "status": t.status,
                  "created_at": t.created_at, "updated_at": t.updated_at}
                 for t in db.session.scalars(select(Transfer).where(Transfer.form_id == form_id)
                                             .order_by(Transfer.created_at, Transfer.id))]
    found = accesses(form_id)  # before this report's own event, which the report then names
    newest = versions[-1].document if versions else {}
    representative = ((newest.get("child") or {}).get("legal_representative") or {}).get("name")
    addressee = representative if form.is_child else _name(newest)
    audit.record(actor, AuditAction.FORM_SUBJECT_ACCESS, "allowed", resource=f"form:{form_id}",
                 fields=sorted(opened_paths), count=len(found))
    return Report(form.id, form.agency_id, form.status, form.created_at, utcnow(), form.is_child, addressee,
                  versions, decisions, referrals, transfers, found, shredded)


def gather_for_authority(actor: Actor, form_id: str) -> Report:
    """``gather`` for a person of an authority (the web page); any other agency's is refused (403, audited).

    The kind is checked first, so a refusal says nothing of whether the form exists.
    """
    agency = db.session.get(Agency, actor.agency) if actor.agency else None
    if agency is None or agency.kind != "authority":
        raise Forbidden("only an authority (the Ministry of the Interior) answers subject access requests",
                        reason="not_an_authority", resource=f"form:{form_id}",
                        action=AuditAction.FORM_SUBJECT_ACCESS)
    return gather(actor, form_id)


def sign(html: bytes) -> bytes:
    """The document with its signature line: a detached JWS by the service key over every byte before it."""
    signature = sign_service(html, keyring().signing_key, SIGNATURE_TYPE, detached=True)
    return html + f"\n<!-- nrm-api-signature: {signature} -->\n".encode("ascii")


def verify(document: bytes, keys: list[dict[str, str]]) -> bool:
    """Whether ``document`` ends with a signature line that one of ``keys`` made over the rest."""
    match = SIGNATURE_LINE.search(document)
    if match is None:
        return False
    return verify_detached_by_service(match.group(1).decode("ascii"), document[:match.start()], keys)
