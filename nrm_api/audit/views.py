"""The auditor's API: query, export, prove and verify the log. Never case content."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response
from flask_smorest import Blueprint

from ..accounts.auth import current_actor, requires
from ..permissions import Permission
from . import auditor
from .schemas import (
    CheckpointListSchema,
    ConsistencyQuerySchema,
    ConsistencySchema,
    EventLocationSchema,
    EventPageQuerySchema,
    EventPageSchema,
    ExportQuerySchema,
    ProofQuerySchema,
    ProofSchema,
    VerifySchema,
)

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="The audit log (auditors)")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}


@blp.route("/events", methods=["GET"])
@requires(Permission.AUDIT_READ)
@blp.arguments(EventPageQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, EventPageSchema)
def list_events(query: dict[str, Any]) -> Any:
    """Query the log by actor, agency, action, resource, outcome and time, a page at a time."""
    cursor, limit = query.pop("cursor", None), query.pop("limit")
    return auditor.list_events(current_actor(), query, cursor, limit)


@blp.route("/export", methods=["GET"])
@requires(Permission.AUDIT_EXPORT)
@blp.arguments(ExportQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, content_type="text/csv", description="CSV or JSON Lines, streamed")
def export(query: dict[str, Any]) -> Response:
    """Export the matching events as CSV or JSON Lines, streamed at any size."""
    fmt = query.pop("format")
    chunks = auditor.export_events(current_actor(), query, fmt)
    response = Response(chunks, mimetype=MEDIA_TYPES[fmt].split(";")[0])
    response.headers["Content-Type"] = MEDIA_TYPES[fmt]
    response.headers["Content-Disposition"] = f'attachment; filename="audit-events.{fmt}"'
    return response


@blp.route("/checkpoints", methods=["GET"])
@requires(Permission.AUDIT_READ)
@blp.response(200, CheckpointListSchema)
def checkpoints() -> Any:
    """The newest signed checkpoints (C2SP signed notes) and the key that verifies them."""
    return auditor.list_checkpoints(current_actor())


@blp.route("/verify", methods=["GET"])
@requires(Permission.AUDIT_VERIFY)
@blp.response(200, VerifySchema)
def verify() -> Any:
    """Verify the whole log: every position, column, root and checkpoint."""
    return auditor.verify(current_actor()).as_dict()


@blp.route("/events/by-hash/<string:event>", methods=["GET"])
@requires(Permission.AUDIT_READ)
@blp.doc(responses={"422": "UNPROCESSABLE_ENTITY"})  # not a hex SHA-256
@blp.response(200, EventLocationSchema)
def by_hash(event: str) -> Any:
    """Find an event by the SHA-256 of its bytes (a receipt's `event`): its position once sequenced."""
    return auditor.locate_event(current_actor(), event)


@blp.route("/events/<int(max=9007199254740991):position>/proof", methods=["GET"])
@requires(Permission.AUDIT_READ)
@blp.arguments(ProofQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, ProofSchema)
def proof(query: dict[str, Any], position: int) -> Any:
    """An inclusion proof of one position against a checkpoint, verifiable offline."""
    return auditor.inclusion_proof(current_actor(), position, query.get("tree_size"))


@blp.route("/consistency", methods=["GET"])
@requires(Permission.AUDIT_READ)
@blp.doc(responses={"404": "NOT_FOUND"})  # no checkpoint of that size
@blp.arguments(ConsistencyQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, ConsistencySchema)
def consistency(query: dict[str, Any]) -> Any:
    """A consistency proof between two checkpoints: the log only grew between them."""
    return auditor.consistency_proof(current_actor(), query["old"], query["new"])
