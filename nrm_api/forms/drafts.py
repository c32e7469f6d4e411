"""Drafts: a form being written by its author's agency. Unsigned, never shared, sealed like forms."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from sqlalchemy import select

from ..audit import events as audit
from ..audit.actor import Actor
from ..crypto.envelope import FieldPlace, new_dek
from ..database import utcnow
from ..errors import InvalidError, NotFoundError
from ..extensions import db
from ..permissions import Permission
from . import sealing, service
from .document import SCHEMA_VERSION, FormDocumentSchema
from .models import Form, FormDraft
from .rules import merge, split

MAX_DRAFTS = 200


def _place(draft: FormDraft, path: str) -> FieldPlace:
    return FieldPlace("draft", draft.id, path, SCHEMA_VERSION, draft.agency_id)


def _validate(raw: Any) -> dict[str, Any]:
    """A draft may be incomplete, but what it holds must be valid: no unknown field, codes from their lists."""
    if not isinstance(raw, dict):
        raise InvalidError("a draft is a JSON object: the form document so far")
    try:
        FormDocumentSchema().load(raw, partial=True)
    except ma.ValidationError as error:
        raise InvalidError("the draft does not validate", errors={"json": error.messages}) from None
    return raw


def _seal(draft: FormDraft, raw: dict[str, Any], dek: bytes) -> None:
    public, values = split(raw)
    draft.public, draft.sealed = public, sealing.seal_values(values, dek, lambda path: _place(draft, path))


def _own(actor: Actor, draft_id: str, action: Permission) -> FormDraft:
    draft = db.session.get(FormDraft, draft_id)
    if draft is None or draft.agency_id != actor.agency:
        raise NotFoundError("no such draft, or none of your agency", resource=f"draft:{draft_id}", action=action)
    return draft


def create(actor: Actor, raw: Any) -> dict[str, Any]:
    """Save a new draft."""
    return _create(actor, _validate(raw), None)


def of_new_version(actor: Actor, form_id: str) -> dict[str, Any]:
    """A draft of a new version of a form its agency wrote or leads, holding the form as it stands."""
    form = service.owned(actor, form_id, Permission.FORM_UPDATE)
    body, _ = service.read(actor, form_id)
    return _create(actor, _validate(body["document"]), form)


def _create(actor: Actor, document: dict[str, Any], amends: Form | None) -> dict[str, Any]:
    draft = FormDraft(id=str(uuid.uuid4()), agency_id=str(actor.agency), created_by=actor.subject)
    if amends is not None:
        draft.amends_form_id, draft.amends_revision = amends.id, amends.revision
    dek = new_dek()
    draft.kek_version, draft.wrapped_dek = sealing.wrap_new(dek, f"draft:{draft.id}")
    _seal(draft, document, dek)
    db.session.add(draft)
    audit.record(actor, Permission.FORM_CREATE, "allowed", resource=f"draft:{draft.id}", fields=draft.sealed)
    db.session.commit()
    return _summary(draft)


def replace(actor: Actor, draft_id: str, raw: Any) -> dict[str, Any]:
    """Overwrite a draft with the document as it stands now."""
    document = _validate(raw)
    draft = _own(actor, draft_id, Permission.FORM_UPDATE)
    _seal(draft, document, sealing.unwrap_stored(draft, f"draft:{draft.id}"))
    draft.updated_at, draft.revision = utcnow(), draft.revision + 1
    audit.record(actor, Permission.FORM_UPDATE, "allowed", resource=f"draft:{draft.id}", fields=draft.sealed)
    db.session.commit()
    return _summary(draft)


def read(actor: Actor, draft_id: str) -> dict[str, Any]:
    """A draft, whole: only its own agency ever reads it."""
    draft = _own(actor, draft_id, Permission.FORM_READ)
    dek = sealing.unwrap_stored(draft, f"draft:{draft.id}")
    opened = sealing.open_values(draft.sealed, dek, lambda path: _place(draft, path), draft.sealed)
    audit.record(actor, Permission.FORM_READ, "allowed", resource=f"draft:{draft.id}", fields=opened)
    db.session.commit()
    return {**_summary(draft), "document": merge(draft.public, opened)}


def discard(actor: Actor, draft_id: str) -> None:
    """Delete a draft (e.g. once submitted as a form)."""
    draft = _own(actor, draft_id, Permission.FORM_UPDATE)
    db.session.delete(draft)
    audit.record(actor, Permission.FORM_UPDATE, "allowed", resource=f"draft:{draft_id}", reason="discarded")
    db.session.commit()


def listing(actor: Actor) -> list[dict[str, Any]]:
    """The agency's drafts, newest first: ids and times only."""
    drafts = db.session.scalars(select(FormDraft).where(FormDraft.agency_id == actor.agency)
                                .order_by(FormDraft.updated_at.desc()).limit(MAX_DRAFTS))
    items = [_summary(draft) for draft in drafts]
    audit.record(actor, Permission.FORM_READ, "allowed", resource="draft:*")
    db.session.commit()
    return items


def _summary(draft: FormDraft) -> dict[str, Any]:
    return {"id": draft.id, "created_by": draft.created_by, "created_at": draft.created_at.isoformat(),
            "updated_at": draft.updated_at.isoformat(), "revision": draft.revision,
            "amends": draft.amends_form_id, "amends_revision": draft.amends_revision}
