"""An agency's webhook endpoint and delivery log over HTTP."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from ..accounts.auth import current_actor, requires
from ..permissions import Permission
from . import service

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks",
                description="Standard Webhooks (v1a, Ed25519) to your agency's one endpoint: thin events, "
                            "the same as the changes feed; dedupe by webhook-id")


class EndpointSchema(ma.Schema):
    """Your agency's endpoint and the key webhooks are signed with."""

    url = ma.fields.String(allow_none=True)
    updated_at = ma.fields.String(allow_none=True)
    signature_scheme = ma.fields.String()
    public_key = ma.fields.String(metadata={"description": "whpk_ + base64 of the raw Ed25519 public key."})
    kid = ma.fields.String(metadata={"description": "The same key in /.well-known/jwks.json."})


class EndpointInSchema(ma.Schema):
    """Where to send your agency's webhooks."""

    class Meta:
        unknown = ma.RAISE

    url = ma.fields.String(required=True, validate=ma.validate.Length(1, 2000))


class DeliveryQuerySchema(ma.Schema):
    """Filters of the delivery log."""

    state = ma.fields.String(validate=ma.validate.OneOf(("pending", "delivered", "dead")))
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(1, 500))


class DeliverySchema(ma.Schema):
    """One webhook and its tries."""

    id = ma.fields.String()
    event_id = ma.fields.String()
    state = ma.fields.String()
    attempts = ma.fields.Integer()
    next_attempt_at = ma.fields.String(allow_none=True)
    delivered_at = ma.fields.String(allow_none=True)
    created_at = ma.fields.String()
    tries = ma.fields.List(ma.fields.Dict())


class RetriedSchema(ma.Schema):
    """A delivery made due again."""

    id = ma.fields.String()
    state = ma.fields.String()


@blp.route("/endpoint", methods=["GET"])
@blp.doc(responses={"404": "NOT_FOUND"})
@requires(Permission.WEBHOOK_MANAGE)
@blp.response(200, EndpointSchema)
def show() -> Any:
    """Your agency's webhook URL and the public key to verify webhooks with."""
    return service.show(current_actor())


@blp.route("/endpoint", methods=["PUT"])
@requires(Permission.WEBHOOK_MANAGE)
@blp.arguments(EndpointInSchema)
@blp.response(200, EndpointSchema)
def register(body: dict[str, Any]) -> Any:
    """Set your agency's webhook URL: https, a public address, redirects never followed."""
    actor = current_actor()
    return service.register(actor, str(actor.agency), body["url"])


@blp.route("/endpoint", methods=["DELETE"])
@blp.doc(responses={"404": "NOT_FOUND"})
@requires(Permission.WEBHOOK_MANAGE)
@blp.response(204)
def remove() -> None:
    """Stop webhooks (the changes feed goes on)."""
    service.remove(current_actor())


@blp.route("/deliveries", methods=["GET"])
@requires(Permission.WEBHOOK_MANAGE)
@blp.arguments(DeliveryQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, DeliverySchema(many=True))
def deliveries(query: dict[str, Any]) -> Any:
    """Your agency's delivery log, newest first."""
    return service.deliveries(current_actor(), query.get("state"), query["limit"])


@blp.route("/deliveries/<delivery_id>/retry", methods=["POST"])
@requires(Permission.WEBHOOK_MANAGE)
@blp.response(200, RetriedSchema)
def retry(delivery_id: str) -> Any:
    """Send a dead webhook again (after fixing your endpoint): a fresh round of back-off. 409 unless dead."""
    return service.retry(current_actor(), delivery_id)
