"""The forms' use cases: submit, amend, read, list, decide, withdraw consent, shred.

Each takes the acting principal, checks access, does the work, writes its audit event and commits
once. A refusal is audited on its own and changes nothing else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import marshmallow as ma
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import aliased

from .. import paging, preconditions
from ..accounts.signing import WriteSignature, verify_write
from ..audit import events as audit
from ..audit.actor import Actor
from ..crypto.canonical import sha256_hex
from ..crypto.envelope import DecryptionError
from ..database import insert_new, utcnow
from ..errors import ConflictError, Forbidden, IntegrityFailure, InvalidError, NotFoundError
from ..extensions import db
from ..idempotency import service as idempotency
from ..permissions import Permission
from ..preconditions import etag
from ..writes import RequestFacts, Written, canonical_body, receipt
from . import access, sealing
from .document import SCHEMA_VERSION, FormDocumentSchema
from .models import Form, FormBlindIndex, FormDecision, FormKey, FormVersion
from .rules import consent_errors, is_child, merge, sealed_paths

#: At most this many possible duplicates are named in an answer.
MAX_DUPLICATES = 20
#: Schemas are built once: building one costs more than validating a form with it.
DOCUMENT_SCHEMA = FormDocumentSchema()


def validate_document(raw: Any, today: datetime, resource: str | None = None) -> dict[str, Any]:
    """Check a document against the schema and the consent rules; 422 with field errors."""
    if not isinstance(raw, dict):
        raise InvalidError("the body must be a JSON object: the form document", reason="invalid_document",
                           resource=resource)
    try:
        DOCUMENT_SCHEMA.load(raw)
    except ma.ValidationError as error:
        raise InvalidError("the form does not validate", errors={"json": error.messages}, reason="invalid_document",
                           resource=resource) from None
    errors = consent_errors(raw, today.date())
    if errors:
        raise InvalidError("the form breaks the consent rules", errors={"json": errors}, reason="invalid_document",
                           resource=resource)
    return raw


def submit(actor: Actor, raw: Any, signature: str | None, facts: RequestFacts) -> Written:
    """Accept a signed form: seal it, index it, audit it, give a receipt; the first result again on a retry.

    ``signature`` is bound to ``facts``: ``POST /api/v1/forms`` and its ``Idempotency-Key`` (required).
    """
    payload = canonical_body(raw)
    attempt = idempotency.begin(actor, facts, payload, Permission.FORM_CREATE, "form")
    if attempt.first is not None:  # a retry: its own signature first, then the first result
        verify_write(actor, signature, payload, facts, Permission.FORM_CREATE, attempt.first.resource)
        return idempotency.replayed(actor, attempt, attempt.first)
    form_id = str(uuid.uuid4())
    signed = verify_write(actor, signature, payload, facts, Permission.FORM_CREATE, f"form:{form_id}")
    validate_document(raw, utcnow(), f"form:{form_id}")
    return idempotency.commit_with(actor, attempt, create(actor, form_id, raw, payload, signed))


def create(actor: Actor, form_id: str, raw: dict[str, Any], payload: bytes, signed: WriteSignature) -> Written:
    """Make a validated, verified form in the caller's transaction (not committed): rows, key, indexes, audit event.

    ``submit`` commits it with its idempotency record; the HTCDS import commits many at once.
    """
    now = utcnow()
    if actor.agency is None:  # a principal's agency exists (its row's foreign key), and so does the form's
        raise NotFoundError("only an agency's principal submits forms", resource=f"form:{form_id}")
    form = Form(id=form_id, agency_id=str(actor.agency), lead_agency_id=str(actor.agency), version=1, revision=1,
                status="active", summary=raw["statistics"], is_child=is_child(raw, now.date()), created_at=now,
                updated_at=now)
    form_key, dek = sealing.new_key(form)
    version = _version(form, 1, raw, payload, signed, actor, dek)
    indexes = sealing.name_indexes(raw)
    insert_new(db.session, form, form_key, version, *(FormBlindIndex(form_id=form.id, value=v) for v in indexes))
    event = audit.record(actor, Permission.FORM_CREATE, "allowed", resource=f"form:{form.id}",
                         fields=version.sealed.keys())
    audit.write_now(db.session)
    return Written("form", form.id, form.revision, True, {
        "id": form.id, "version": 1, "status": form.status, "receipt": receipt(form.id, 1, payload, event.sha256),
        "possible_duplicates": _duplicates(actor, form.id, indexes)})


def _version(form: Form, version: int, raw: dict[str, Any], payload: bytes, signed: WriteSignature, actor: Actor,
             dek: bytes) -> FormVersion:
    public, sealed = sealing.seal_document(form, version, raw, dek)
    return FormVersion(form_id=form.id, version=version, schema_version=SCHEMA_VERSION, public=public, sealed=sealed,
                       signature=signed.value, signed_kid=signed.kid, submitted_by=actor.subject,
                       sha256=sha256_hex(payload))


_DUPLICATES = (select(Form.id, Form.agency_id).join(FormBlindIndex, FormBlindIndex.form_id == Form.id)
               .where(FormBlindIndex.value.in_(bindparam("indexes", expanding=True)), Form.id != bindparam("form_id"),
                      Form.agency_id == bindparam("agency"))
               .distinct().order_by(Form.id).limit(MAX_DUPLICATES))


def _duplicates(actor: Actor, form_id: str, indexes: set[str]) -> list[dict[str, str]]:
    """Forms of the caller's own agency that may be the same person: found by blind index alone."""
    if not indexes:
        return []
    rows = db.session.execute(_DUPLICATES, {"indexes": sorted(indexes), "form_id": form_id,
                                            "agency": actor.agency}).all()
    return [{"form_id": row.id, "agency": row.agency_id} for row in rows]


class AccessEnded(Forbidden):
    """The agency was sent the form, but its referral is over or consent was withdrawn."""

    slug, title = "access-ended", "Access ended"


def accessible(actor: Actor, form_id: str, action: Permission) -> access.Access:
    """The caller's access to a form it may read; else the refusal is audited and answered.

    404 to an agency that was never sent the form (it may not know it exists), 403 to one whose
    referral is over or whose access consent withdrawal ended.
    """
    form = load(form_id)
    if form is not None:
        found = access.of(form, actor.agency, utcnow().date())
        if found.classes:
            return found
        if actor.agency and access.knows_of(form.id, actor.agency):
            raise AccessEnded("your agency's referral for this form is over, or the person withdrew consent",
                              resource=f"form:{form_id}", action=action)
    raise NotFoundError("no such form, or none you may see", resource=f"form:{form_id}", action=action)


#: The newest decision of the form in the outer query.
_DECIDED = aliased(FormDecision)
_NEWEST_DECISION = select(func.max(_DECIDED.id)).where(_DECIDED.form_id == Form.id).scalar_subquery()
#: A form with its newest version, its key and its newest decision: each then in the session's identity map.
_LOAD = (select(Form, FormVersion, FormKey, FormDecision)
         .outerjoin(FormVersion, (FormVersion.form_id == Form.id) & (FormVersion.version == Form.version))
         .outerjoin(FormKey, FormKey.form_id == Form.id)
         .outerjoin(FormDecision, FormDecision.id == _NEWEST_DECISION)
         .where(Form.id == bindparam("form_id")))
_LOADED = "nrm_form_loaded"


def load(form_id: str) -> Form | None:
    """A form with its newest version, key and decision, in one query: reading them again costs none."""
    row = db.session.execute(_LOAD, {"form_id": form_id}).first()
    if row is None:
        return None
    form, version, key, decision = row
    # the last form loaded's rows, held: the identity map keeps only what something else holds
    db.session.info[_LOADED] = (form.id, form.revision, decision, version, key)
    return form


def check_if_match(form: Form, if_match: str | None) -> None:
    """Changes need the form's current ETag: 428 without one, 412 when stale."""
    preconditions.check_if_match(etag(form.revision), if_match, f"form:{form.id}")


def readable(actor: Actor, form_id: str, action: Permission) -> Form:
    """The form, if the actor's agency may read it (see ``accessible``)."""
    return accessible(actor, form_id, action).form


def owned(actor: Actor, form_id: str, action: Permission) -> Form:
    """The form, if the actor's agency wrote it or leads the case; 403 to other readers."""
    found = accessible(actor, form_id, action)
    if not found.owner:
        raise Forbidden("only the agency that wrote the form or leads the case may do this", reason="not_lead_agency",
                        resource=f"form:{form_id}", action=action)
    return found.form


def update(actor: Actor, form_id: str, raw: Any, signature: str | None, if_match: str | None,
           facts: RequestFacts) -> Written:
    """A new signed version of a form, by its author's agency (``signature`` bound to ``PUT /api/v1/forms/ID``)."""
    payload = canonical_body(raw)
    form = owned(actor, form_id, Permission.FORM_UPDATE)
    check_if_match(form, if_match)
    signed = verify_write(actor, signature, payload, facts, Permission.FORM_UPDATE, f"form:{form.id}")
    validate_document(raw, utcnow(), f"form:{form.id}")
    if form.status == "shredded":
        raise ConflictError("the form has been shredded")
    dek = sealing.open_key(db.session.get(FormKey, form.id))
    form.version += 1
    form.revision += 1
    form.updated_at = utcnow()
    form.summary, form.is_child = raw["statistics"], is_child(raw, form.updated_at.date())
    version = _version(form, form.version, raw, payload, signed, actor, dek)
    db.session.add(version)
    db.session.execute(delete(FormBlindIndex).where(FormBlindIndex.form_id == form.id))
    db.session.add_all([FormBlindIndex(form_id=form.id, value=v) for v in sealing.name_indexes(raw)])
    event = audit.record(actor, Permission.FORM_UPDATE, "allowed", resource=f"form:{form.id}",
                         fields=version.sealed.keys())
    audit.write_now(db.session)
    written = amended(form, receipt(form.id, form.version, payload, event.sha256))
    db.session.commit()
    return written


def amended(form: Form, signed_receipt: str) -> Written:
    """What a change of an existing form tells its writer: its version, status and receipt."""
    return Written("form", form.id, form.revision, False, {
        "id": form.id, "version": form.version, "status": form.status, "receipt": signed_receipt})


def latest_version(form: Form) -> FormVersion:
    """The newest version of a form."""
    row = db.session.get(FormVersion, (form.id, form.version))
    if row is None:  # pragma: no cover - a form always has its first version
        raise NotFoundError("the form has no version")
    return row


def read(actor: Actor, form_id: str) -> tuple[dict[str, Any], str]:
    """The form as the caller may see it, the read audited with every field disclosed."""
    found = accessible(actor, form_id, Permission.FORM_READ)
    form, classes = found.form, found.classes
    disclosure = disclose(actor, found)
    body: dict[str, Any] = {"id": form.id, "version": form.version, "agency": form.agency_id,
                            "created_at": form.created_at.isoformat(), "status": form.status,
                            "document": disclosure.document, "withheld": disclosure.withheld}
    if not disclosure.withheld:
        body["signature"] = disclosure.version.signature
    decision = latest_decision(form, classes)
    if decision is not None:
        body["decision"] = decision
    db.session.commit()
    return body, etag(form.revision)


@dataclass(frozen=True)
class Disclosure:
    """The newest version of a form as one reader may see it."""

    version: FormVersion
    #: The public part with the fields opened for this reader.
    document: dict[str, Any]
    #: The sealed fields it does not see.
    withheld: list[str]


def disclose(actor: Actor, found: access.Access, reason: str | None = None) -> Disclosure:
    """Open the fields ``found`` lets the reader see (nothing else is decrypted) and audit the read with them.

    The one path by which a form's sealed fields reach a reader: the API's read, the web form's and
    the HTCDS export (``reason`` ``htcds_export``). Not committed: the caller commits.
    """
    form, classes = found.form, found.classes
    row = latest_version(form)
    wanted = sorted(path for path in row.sealed if sealed_paths()[path] in classes)
    try:
        opened = sealing.open_paths(form, row, sealing.open_key(db.session.get(FormKey, form.id)), wanted)
    except sealing.ShreddedError:
        opened = {}
    except DecryptionError:
        raise IntegrityFailure("a sealed field does not open in its place; operators have been told by the audit log",
                               reason="integrity", resource=f"form:{form.id}", action=Permission.FORM_READ) from None
    audit.record(actor, Permission.FORM_READ, "allowed", resource=f"form:{form.id}", reason=reason,
                 fields=[*opened, *(f"{section}.*" for section in row.public)])
    return Disclosure(row, merge(row.public, opened), sorted(set(row.sealed) - set(opened)))


def latest_decision(form: Form, classes: frozenset[str]) -> dict[str, Any] | None:
    """The newest identification decision, its note only for readers who see special fields."""
    loaded = db.session.info.get(_LOADED)
    if loaded is not None and loaded[:2] == (form.id, form.revision):  # loaded with the form (a decision bumps it)
        row = loaded[2]
    else:
        row = db.session.scalars(select(FormDecision).where(FormDecision.form_id == form.id)
                                 .order_by(FormDecision.id.desc()).limit(1)).first()
    if row is None:
        return None
    decision: dict[str, Any] = {"trafficking_status": row.trafficking_status, "agency": row.agency_id,
                                "decided_at": row.created_at.isoformat(), "signature": row.signature}
    if row.note_sealed is not None and "special" in classes:
        try:
            dek = sealing.open_key(db.session.get(FormKey, form.id))
            decision["note"] = sealing.open_value(dek, sealing.place(form, 0, "decision.note"), row.note_sealed)
        except sealing.ShreddedError:
            pass
    return decision


def summaries(actor: Actor, cursor: str | None, limit: int, filters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The forms the caller's agency may see: their non-identifying summary, a page at a time."""
    query = select(Form).where(access.visible_forms(str(actor.agency))).order_by(Form.created_at, Form.id)
    query = query.limit(limit + 1)
    wanted = filters or {}
    if "status" in wanted:
        query = query.where(Form.status == wanted["status"])
    if "is_child" in wanted:
        query = query.where(Form.is_child.is_(wanted["is_child"]))
    if "updated_after" in wanted:
        query = query.where(Form.updated_at > wanted["updated_after"])
    if cursor:
        created, form_id = paging.decode(cursor)
        query = query.where((Form.created_at > created) | ((Form.created_at == created) & (Form.id > form_id)))
    rows = list(db.session.scalars(query))
    more, rows = len(rows) > limit, rows[:limit]
    items = [{"id": f.id, "version": f.version, "agency": f.agency_id, "status": f.status,
              "created_at": f.created_at.isoformat(), "updated_at": f.updated_at.isoformat(),
              "is_child": f.is_child, "statistics": f.summary} for f in rows]
    audit.record(actor, Permission.FORM_READ, "allowed", resource="form:*", fields=["statistics.*"])
    db.session.commit()
    return {"items": items, "next_cursor": paging.encode(rows[-1].created_at, rows[-1].id) if more else None}
