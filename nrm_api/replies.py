"""How the API's views answer: dumped by their output schema, then signed where it carries case data.

Also the API's side of a write: the ``RequestFacts`` its signature is bound to, read from the request
served, and the answer to a service's ``Written`` result (status, ``Location``, ``ETag``, body).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, request
from flask_smorest.utils import get_appcontext

from .crypto.canonical import canonical
from .crypto.jose import RESPONSE_TYPE
from .crypto.jws import sign_service
from .extensions import keyring
from .preconditions import etag
from .writes import RequestFacts, Written

View = TypeVar("View", bound=Callable[..., Any])

SIGNED = {"parameters": [
    {"in": "header", "name": "X-JWS-Signature", "required": True,
     "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$"},
     "description": "Detached JWS (header..signature) over the RFC 8785 canonical body. Protected header "
                    "{alg: Ed25519, kid, typ: nrm+jws, iat, htm, htu, jti}, bound to this request: htm is its "
                    "method, htu its path without query (e.g. /api/v1/forms), jti a unique string of at most 64 "
                    "characters used once (remembered at least 10 minutes on every node). A mismatch answers 401 "
                    "signature-htm-mismatch or signature-htu-mismatch, a missing jti signature-missing-jti, a "
                    "reused one signature-jti-reused; only a retry of the same request with the same "
                    "Idempotency-Key may carry the same signature again."}]}
IF_MATCH = {"in": "header", "name": "If-Match", "required": True, "schema": {"type": "string", "minLength": 1}}
IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": True,
                   "schema": {"type": "string", "minLength": 1, "maxLength": 200}}


#: The answer of an operation that names what may not exist (or not for you): a form, an agency, an endpoint.
NOT_FOUND = {"responses": {"404": "NOT_FOUND"}}


def body_of(component: str) -> dict[str, Any]:
    """An OpenAPI request body of the named component schema."""
    schema = {"$ref": f"#/components/schemas/{component}"}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def signed_payload(body: Any) -> tuple[bytes, dict[str, str]]:
    """The canonical bytes of an answer carrying case data, and the service's detached signature over them."""
    payload = canonical(body)
    return payload, {"X-JWS-Signature": sign_service(payload, keyring().signing_key, RESPONSE_TYPE, detached=True)}


#: Where the API reads each kind of record a write answers for.
LOCATIONS = {"form": "/api/v1/forms/{}", "referral": "/api/v1/referrals/{}", "transfer": "/api/v1/transfers/{}"}


def request_facts() -> RequestFacts:
    """What the signature of the write being served is bound to: its method, path and ``Idempotency-Key``."""
    return RequestFacts(request.method, request.path, request.headers.get("Idempotency-Key"))


def answer(written: Written, *, located: bool = False) -> tuple[dict[str, Any], int, dict[str, str]]:
    """A write's result as a view returns it: the body for ``@blp.response``'s schema to dump, status, headers.

    201 with ``Location`` when the write created its record, else 200; ``ETag`` always. ``located``
    sends ``Location`` on a change too (a transfer's answers always have).
    """
    headers = {"ETag": etag(written.revision)}
    if written.created or located:
        headers = {"Location": LOCATIONS[written.kind].format(written.id), **headers}
    return dict(written.body), 201 if written.created else 200, headers


def signed(view: View) -> View:
    """Sign the answer ``@blp.response`` dumped: its canonical bytes, the service's signature, never cached.

    Stacked above ``@blp.response``, so what is signed and sent is what the output schema let through,
    never what the service handed the view.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        dumped = get_appcontext()
        dumped.pop("result_dump", None)  # one app context may serve several requests (tests): never a stale one
        response: Response = view(*args, **kwargs)
        if "result_dump" not in dumped:
            raise TypeError(f"{view.__name__} must return a body for its @blp.response schema to dump")
        payload, headers = signed_payload(dumped.pop("result_dump"))
        response.set_data(payload)
        response.headers.update({**headers, "Cache-Control": "no-store"})
        return response

    return cast(View, wrapper)
