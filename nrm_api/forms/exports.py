"""HTCDS export and import: the network's cases one agency may see, encrypted to a recipient; and back in.

The export reads each form the agency may see through need-to-know (``access.of``) and the forms'
one disclosure path (``service.disclose``): exactly the fields that agency would read through the
API, each read audited as such (``form:read``, reason ``htcds_export``), then one ``export:htcds``
event with the row count. The result is a compact JWE (ECDH-ES, A256GCM) to the recipient's public
key: the plaintext exists only in memory.

The import opens such a file with the recipient's private key, checks every row against the form's
schema and consent rules before anything is written, then creates each form as the importing
agency — signed by the agency's hosted key for the operator, verified like any write — and commits
them with one ``import:htcds`` event in one transaction: all rows, or none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from sqlalchemy import select

from ..accounts import hosted
from ..accounts.signing import verify_write
from ..agencies.models import Agency
from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..crypto import jwe
from ..crypto.errors import KeyFormatError, TokenError
from ..crypto.hosted import sign_detached_hosted
from ..database import utcnow
from ..errors import Forbidden, InvalidError, NotFoundError
from ..extensions import db, keyring
from ..permissions import Permission
from ..writes import RequestFacts, canonical_body
from . import access, htcds, service
from . import ctdc as ctdc_rules
from .models import Form, FormVersion
from .rules import consent_errors

FORMATS = ("json", "csv")
#: Agency kinds that may ask for an export through the API (the CLI is the operator's, for any agency).
EXPORTING_KINDS = ("authority", "international")
#: The API operation an imported form's signature is bound to: what ``POST /api/v1/forms`` would carry.
IMPORT_FACTS = RequestFacts("POST", "/api/v1/forms")


@dataclass(frozen=True)
class Export:
    """An export: the compact JWE and how many rows it holds."""

    jwe: str
    rows: int
    content_type: str


def _agency(agency_id: str | None) -> Agency:
    agency = db.session.get(Agency, agency_id) if agency_id else None
    if agency is None:
        raise NotFoundError("no such agency", reason="unknown_agency")
    return agency


def rows(actor: Actor) -> list[dict[str, Any]]:
    """The HTCDS rows of every form ``actor``'s agency may see, each read audited; not committed."""
    agency = _agency(actor.agency)
    today = utcnow().date()
    found: list[dict[str, Any]] = []
    # active forms only: a form whose person withdrew consent, or that was shredded, must not travel
    # to another system, and an import (which cannot carry that status) would make it active again
    forms = db.session.scalars(select(Form).where(access.visible_forms(agency.id), Form.status == "active")
                               .order_by(Form.created_at, Form.id))
    for form in list(forms):
        seen = access.of(form, agency.id, today)
        if not seen.classes:  # referred, but consent does not cover it (or no longer)
            continue
        disclosure = service.disclose(actor, seen, reason="htcds_export")
        record = {"cas_CaseId": form.id, "cas_Organisation": form.agency_id,
                  "cas_CreatedDate": form.created_at.isoformat(), "cas_Version": str(form.version)}
        found.append(htcds.row(disclosure.document, record))
    return found


def export(actor: Actor, recipient: Any, fmt: str = "json") -> Export:
    """The forms ``actor``'s agency may see as HTCDS ``fmt``, encrypted to ``recipient``; audited, committed."""
    if fmt not in FORMATS:
        raise InvalidError(f"format must be one of {', '.join(FORMATS)}", reason="unknown_format",
                           action=AuditAction.EXPORT_HTCDS)
    try:
        key = jwe.recipient_key(recipient)
    except KeyFormatError as error:
        raise InvalidError(str(error), reason="bad_recipient_key", action=AuditAction.EXPORT_HTCDS) from None
    found = rows(actor)
    content_type = jwe.CONTENT_TYPES[fmt]
    plaintext = htcds.to_csv(found) if fmt == "csv" else htcds.to_json(found, {"agency": actor.agency})
    token = jwe.encrypt(plaintext, key, content_type)
    audit.record(actor, AuditAction.EXPORT_HTCDS, "allowed", resource="form:*", reason=fmt, count=len(found))
    db.session.commit()
    return Export(token, len(found), content_type)


def export_for(actor: Actor, recipient: Any, fmt: str = "json") -> Export:
    """The API's export: only the authority's and IOM's (international) people and systems."""
    agency = _agency(actor.agency)
    if agency.kind not in EXPORTING_KINDS:
        raise Forbidden("only the authority and international organisations export the network's cases",
                        reason="not_an_exporting_agency", action=AuditAction.EXPORT_HTCDS)
    return export(actor, recipient, fmt)


# --- import ------------------------------------------------------------------------------------

def documents(compact: str, private: Any) -> list[dict[str, Any]]:
    """The form documents of an export, decrypted with the recipient's private key and checked row by row."""
    try:
        header, plaintext = jwe.decrypt(compact, private)
    except (KeyFormatError, TokenError) as error:
        raise InvalidError(str(error), reason="undecryptable", action=AuditAction.IMPORT_HTCDS) from None
    try:
        found = htcds.rows_of(plaintext, str(header.get("cty", "")))
        docs = [htcds.document(values, f"row {number}") for number, values in enumerate(found, start=1)]
    except htcds.HtcdsError as error:
        raise InvalidError(str(error), reason="invalid_export", action=AuditAction.IMPORT_HTCDS) from None
    today = utcnow()
    for number, document in enumerate(docs, start=1):
        try:
            service.DOCUMENT_SCHEMA.load(document)
        except ma.ValidationError as error:
            raise InvalidError(f"row {number} does not validate: {_said(error.messages)}", errors=error.messages,
                               reason="invalid_document", action=AuditAction.IMPORT_HTCDS) from None
        broken = consent_errors(document, today.date())
        if broken:
            raise InvalidError(f"row {number} breaks the consent rules: {_said(broken)}", errors=broken,
                               reason="invalid_document", action=AuditAction.IMPORT_HTCDS)
    return docs


def _said(messages: Any, prefix: str = "") -> str:
    """Field errors as ``path: message`` (messages name the rule, never the value)."""
    if isinstance(messages, dict):
        return "; ".join(_said(value, f"{prefix}{key}.") for key, value in messages.items())
    if isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        return f"{prefix.rstrip('.')}: {' '.join(messages)}"
    if isinstance(messages, list):
        return "; ".join(_said(item, prefix) for item in messages)
    return f"{prefix.rstrip('.')}: {messages}"


def import_forms(actor: Actor, compact: str, private: Any) -> list[str]:
    """Create every form of an export as ``actor``'s agency, all in one transaction; their new ids.

    ``actor`` is the operator acting for the agency (``Actor.operator()`` with its ``agency``); each
    form is signed with the agency's hosted key naming the operator, and verified as any write.
    """
    agency = _agency(actor.agency)
    docs = documents(compact, private)  # every row checked before anything is written
    kid = hosted.current_kid(agency.id) or hosted.rotate(actor, agency.id)
    created: list[str] = []
    for document in docs:
        form_id = str(uuid.uuid4())
        payload = canonical_body(document)
        signature = sign_detached_hosted(keyring().hosted, kid, payload, IMPORT_FACTS.method, IMPORT_FACTS.path,
                                         actor.subject)
        signed = verify_write(actor, signature, payload, IMPORT_FACTS, Permission.FORM_CREATE, f"form:{form_id}")
        created.append(service.create(actor, form_id, document, payload, signed).id)
    audit.record(actor, AuditAction.IMPORT_HTCDS, "allowed", resource="form:*", count=len(created))
    db.session.commit()
    return created


# --- the CTDC-style anonymised dataset ---------------------------------------------------------

def ctdc(actor: Actor, k: int = ctdc_rules.K) -> ctdc_rules.Dataset:
    """The network's cases as a k-anonymous dataset, from their public parts only (nothing is decrypted).

    Only active forms whose person consented to anonymous statistics: none whose person withdrew
    consent (the withdrawal is on the form, not in its consent section), none that was shredded.
    Audited (``export:ctdc``) with the rows it holds.
    """
    newest = (select(Form.summary, FormVersion.public)
              .join(FormVersion, (FormVersion.form_id == Form.id) & (FormVersion.version == Form.version))
              .where(Form.status == "active").order_by(Form.created_at, Form.id))
    records = [ctdc_rules.record(public, summary) for summary, public in db.session.execute(newest)
               if ((public.get("consent") or {}).get("purposes") or {}).get("statistics") is True]
    dataset = ctdc_rules.anonymise(records, k)
    audit.record(actor, AuditAction.EXPORT_CTDC, "allowed", resource="form:*", count=len(dataset.rows),
                 fields=["statistics.*", "exploitation.*", "screening.detected_by", "consent.purposes.statistics"])
    db.session.commit()
    return dataset
