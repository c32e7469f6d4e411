"""Wire shapes of the forms API (the document itself is ``document.FormDocumentSchema``)."""

from __future__ import annotations

import marshmallow as ma

from ..crypto.jws import RECEIPT_DESCRIPTION
from ..fields import QueryBoolean, Strict, StrictBoolean
from ..paging import PageQuerySchema
from .models import STATUSES

DOCUMENT = {"allOf": [{"$ref": "#/components/schemas/FormDocument"}]}
DRAFT = {"allOf": [{"$ref": "#/components/schemas/FormDraft"}]}


class FormWrittenSchema(ma.Schema):
    """The answer to an accepted write."""

    id = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    receipt = ma.fields.String(required=True, metadata={"description": RECEIPT_DESCRIPTION})
    possible_duplicates = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "Forms of your agency that may be the same person (by blind index)."})


class DecisionOutSchema(ma.Schema):
    """An identification decision as a reader sees it."""

    trafficking_status = ma.fields.String()
    agency = ma.fields.String()
    decided_at = ma.fields.String()
    note = ma.fields.String(metadata={"x-sensitivity": "special"})
    signature = ma.fields.String()


class FormSchema(ma.Schema):
    """A form as the caller may see it."""

    id = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)
    agency = ma.fields.String(required=True)
    created_at = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    document = ma.fields.Dict(required=True, metadata=DOCUMENT)
    withheld = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "Fields present in the form that you may not see."})
    signature = ma.fields.String(metadata={"description": "The author's detached JWS, when you see every field."})
    decision = ma.fields.Nested(DecisionOutSchema)


class FormSummarySchema(ma.Schema):
    """A form in a list: never an identifying field."""

    id = ma.fields.String()
    version = ma.fields.Integer()
    agency = ma.fields.String()
    status = ma.fields.String()
    created_at = ma.fields.String()
    updated_at = ma.fields.String()
    is_child = StrictBoolean()
    statistics = ma.fields.Dict()


class FormPageSchema(ma.Schema):
    """A page of forms."""

    items = ma.fields.List(ma.fields.Nested(FormSummarySchema))
    next_cursor = ma.fields.String(allow_none=True)


class FormPageQuerySchema(PageQuerySchema):
    """Filters of the form list, and keyset paging."""

    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    is_child = QueryBoolean()
    updated_after = ma.fields.AwareDateTime()


class DraftSchema(ma.Schema):
    """A draft: its document only when read one at a time."""

    id = ma.fields.String(required=True)
    created_by = ma.fields.String()
    created_at = ma.fields.String()
    updated_at = ma.fields.String()
    revision = ma.fields.Integer()
    document = ma.fields.Dict(metadata=DRAFT)


class HtcdsExportRequestSchema(Strict):
    """What to export and to whom: the recipient's public key, and the format inside the JWE."""

    recipient = ma.fields.Dict(required=True, metadata={
        "description": "The recipient's public JWK: EC P-256 or OKP X25519 (a private key is refused)."})
    format = ma.fields.String(load_default="json", validate=ma.validate.OneOf(["json", "csv"]),
                              metadata={"description": "HTCDS as JSON or as CSV, inside the JWE."})
