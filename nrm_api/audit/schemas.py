"""Wire shapes of the auditor's API."""

from __future__ import annotations

import base64

import marshmallow as ma

from ..fields import MAX_SAFE_INTEGER, StrictBoolean
from .models import OUTCOMES
from .queries import MAX_LIMIT


class EventQuerySchema(ma.Schema):
    """Filters of the log; all optional, combined with AND."""

    actor = ma.fields.String(metadata={"description": "`client:ID`, `user:NAME`, `cli:OSUSER` or `anonymous`"})
    agency = ma.fields.String()
    action = ma.fields.String(metadata={"example": "auth:login"})
    resource = ma.fields.String(metadata={"example": "agency:moi"})
    outcome = ma.fields.String(validate=ma.validate.OneOf(OUTCOMES))
    since = ma.fields.AwareDateTime(metadata={"description": "Inclusive, RFC 3339 with offset."})
    until = ma.fields.AwareDateTime(metadata={"description": "Exclusive, RFC 3339 with offset."})


class EventPageQuerySchema(EventQuerySchema):
    """Filters plus keyset paging."""

    cursor = ma.fields.String(metadata={"description": "`next_cursor` of the previous page."})
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(1, MAX_LIMIT))


class ExportQuerySchema(EventQuerySchema):
    """Filters plus the export format."""

    format = ma.fields.String(required=True, validate=ma.validate.OneOf(("csv", "jsonl")))


class EventSchema(ma.Schema):
    """An audited access: who, what, on which record, which fields, with what outcome. Never a value."""

    seq = ma.fields.Integer(allow_none=True, metadata={"description": "Position in the log; null until sequenced."})
    occurred_at = ma.fields.AwareDateTime()
    actor = ma.fields.String()
    agency = ma.fields.String(allow_none=True)
    action = ma.fields.String()
    resource = ma.fields.String(allow_none=True)
    disclosed = ma.fields.List(ma.fields.String(), data_key="fields", attribute="fields",
                               metadata={"description": "Names of the fields disclosed."})
    outcome = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    request_id = ma.fields.String(allow_none=True)
    client_request_id = ma.fields.String(allow_none=True)
    client_address = ma.fields.String(allow_none=True)
    sha256 = ma.fields.String(metadata={"description": "SHA-256 of the event's exact bytes (hex)."})
    count = ma.fields.Integer(allow_none=True, metadata={
        "description": "How many like refusals this one event stands for (aggregated); null for one access."})


class EventPageSchema(ma.Schema):
    """A page of events."""

    items = ma.fields.List(ma.fields.Nested(EventSchema))
    next_cursor = ma.fields.String(allow_none=True)


class CheckpointSchema(ma.Schema):
    """A signed checkpoint in the C2SP signed-note format."""

    tree_size = ma.fields.Integer()
    root_hash = ma.fields.Function(lambda c: _b64(c.root_hash), metadata={"type": "string", "format": "byte"})
    note = ma.fields.String(metadata={"description": "The signed note, verifiable with the JWKS key."})
    created_at = ma.fields.AwareDateTime()


class CheckpointListSchema(ma.Schema):
    """Checkpoints, newest first, and the note verifier key."""

    origin = ma.fields.String()
    verifier_keys = ma.fields.List(ma.fields.String(), metadata={"description": "`name+id+key` note verifier keys."})
    items = ma.fields.List(ma.fields.Nested(CheckpointSchema))


class VerifyHeadSchema(ma.Schema):
    """The newest position verified."""

    seq = ma.fields.Integer()
    hash = ma.fields.String(metadata={"description": "Root hash of the log up to `seq` (hex)."})
    size = ma.fields.Integer()


class VerifySchema(ma.Schema):
    """The verdict on the whole log."""

    valid = StrictBoolean(required=True)
    events_checked = ma.fields.Integer(required=True)
    head = ma.fields.Nested(VerifyHeadSchema, allow_none=True)
    first_invalid_seq = ma.fields.Integer(allow_none=True)
    problem = ma.fields.String(allow_none=True, metadata={
        "description": "altered, removed, inserted, reordered, truncated, checkpoint or unsequenced"})
    detail = ma.fields.String(allow_none=True)
    checkpoints_checked = ma.fields.Integer()
    invalid_checkpoint = ma.fields.Integer(allow_none=True)
    pending = ma.fields.Integer(metadata={"description": "Committed events still waiting for a position."})
    unsequenced = ma.fields.Integer(metadata={
        "description": "Committed events with neither a position nor a queue entry (any makes the log invalid)."})
    unsequenced_events = ma.fields.List(ma.fields.String(), metadata={
        "description": "The SHA-256 (hex) of the first of them."})


class EventLocationSchema(ma.Schema):
    """Where an event named by its hash stands: waiting for a position, sequenced, or provable."""

    event = ma.fields.String(metadata={"description": "The SHA-256 (hex) of the event's bytes, as in a receipt."})
    status = ma.fields.String(metadata={"enum": ["pending", "sequenced", "checkpointed"], "description":
                              "pending: committed, no position yet; sequenced: a position, no checkpoint covers it "
                              "yet; checkpointed: its inclusion proof is at `proof`."})
    seq = ma.fields.Integer(allow_none=True, metadata={"description": "Its position in the log; null while pending."})
    proof = ma.fields.String(allow_none=True, metadata={"description": "Path of its inclusion proof, once provable."})


class ProofQuerySchema(ma.Schema):
    """Which checkpoint to prove against."""

    tree_size = ma.fields.Integer(validate=ma.validate.Range(1, MAX_SAFE_INTEGER),
                                  metadata={"description": "A checkpoint's size; the newest covering one by default."})


class ProofSchema(ma.Schema):
    """An RFC 6962 inclusion proof of one position, verifiable offline against the checkpoint."""

    seq = ma.fields.Integer()
    leaf_index = ma.fields.Integer(metadata={"description": "The leaf's index in the tree: its position, `seq`."})
    tree_size = ma.fields.Integer()
    event = ma.fields.Function(lambda p: _b64(p["event"]), metadata={"type": "string", "format": "byte",
                               "description": "The event's exact bytes."})
    leaf_hash = ma.fields.Function(lambda p: _b64(p["leaf_hash"]), metadata={"type": "string", "format": "byte"})
    proof = ma.fields.Function(lambda p: [_b64(h) for h in p["proof"]],
                               metadata={"type": "array", "items": {"type": "string", "format": "byte"}})
    checkpoint = ma.fields.String(metadata={"description": "The signed checkpoint the proof leads to."})


class ConsistencyQuerySchema(ma.Schema):
    """Two checkpoint sizes."""

    old = ma.fields.Integer(required=True, data_key="from", validate=ma.validate.Range(1, MAX_SAFE_INTEGER))
    new = ma.fields.Integer(required=True, data_key="to", validate=ma.validate.Range(1, MAX_SAFE_INTEGER))


class ConsistencySchema(ma.Schema):
    """An RFC 6962 consistency proof between two checkpoints."""

    old = ma.fields.Integer(data_key="from")
    new = ma.fields.Integer(data_key="to")
    proof = ma.fields.Function(lambda p: [_b64(h) for h in p["proof"]],
                               metadata={"type": "array", "items": {"type": "string", "format": "byte"}})


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()
