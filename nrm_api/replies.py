"""How the API's views answer: canonical JSON, signed where it carries case data; the shared doc parts."""

from __future__ import annotations

from typing import Any

from flask import Response

from .crypto.canonical import canonical
from .crypto.jws import RESPONSE_TYPE, sign_service
from .extensions import keyring
from .idempotency.service import Reply

SIGNED = {"parameters": [
    {"in": "header", "name": "X-JWS-Signature", "required": True, "schema": {"type": "string"},
     "description": "Detached JWS (header..signature) over the RFC 8785 canonical body. Protected header "
                    "{alg: Ed25519, kid, typ: nrm+jws, iat, htm, htu, jti}, bound to this request: htm is its "
                    "method, htu its path without query (e.g. /api/v1/forms), jti a unique string of at most 64 "
                    "characters used once (remembered at least 10 minutes on every node). A mismatch answers 401 "
                    "signature-htm-mismatch or signature-htu-mismatch, a missing jti signature-missing-jti, a "
                    "reused one signature-jti-reused; only a retry of the same request with the same "
                    "Idempotency-Key may carry the same signature again."}]}
IF_MATCH = {"in": "header", "name": "If-Match", "required": True, "schema": {"type": "string"}}
IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": True,
                   "schema": {"type": "string", "maxLength": 200}}


def body_of(component: str) -> dict[str, Any]:
    """An OpenAPI request body of the named component schema."""
    schema = {"$ref": f"#/components/schemas/{component}"}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def signed_payload(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The canonical bytes of an answer carrying case data, and the service's detached signature over them."""
    payload = canonical(body)
    return payload, {"X-JWS-Signature": sign_service(payload, keyring().signing_key, RESPONSE_TYPE, detached=True)}


def json_reply(reply: Reply) -> Response:
    """A write's answer: canonical JSON with its headers."""
    response = Response(canonical(reply.body), status=reply.status, mimetype="application/json")
    response.headers.update(reply.headers)
    return response


def signed_reply(body: dict[str, Any], etag: str | None = None) -> Response:
    """A response carrying case data: canonical bytes, signed by the service, never cached."""
    payload, headers = signed_payload(body)
    response = Response(payload, mimetype="application/json")
    response.headers.update({**headers, "Cache-Control": "no-store"})
    if etag:
        response.headers["ETag"] = etag
    return response
