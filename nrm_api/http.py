"""Request hygiene every endpoint shares: request ids, strict JSON, media types, headers."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from .crypto.canonical import DuplicateMemberError, loads_strict
from .errors import Problem

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}
#: Swagger UI's page carries an inline script; everything it loads comes from this host.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
)
#: Endpoints that take a form-encoded body and answer OAuth errors themselves.
FORM_ENDPOINTS = {"auth.token"}


def _assign_request_id() -> None:
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else str(uuid.uuid4())


def _check_body() -> None:
    if request.method not in _BODY_METHODS or not request.path.startswith("/api/"):
        return
    if request.endpoint in FORM_ENDPOINTS:
        return
    length = request.content_length
    has_body = bool(length) or request.headers.get("Transfer-Encoding")
    if has_body and request.mimetype != "application/json":
        raise Problem(415, "unsupported-media-type", "Unsupported Media Type",
                      "request bodies must be application/json")
    data = request.get_data(cache=True)  # reading enforces MAX_CONTENT_LENGTH (413)
    if not data:
        return
    try:
        loads_strict(data)
    except DuplicateMemberError:
        raise Problem(400, "duplicate-member", "Duplicate member name",
                      "a JSON object in the body names the same member twice") from None
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "malformed-json", "Malformed JSON", "the body is not well-formed JSON") from None


def _finish(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id") or str(uuid.uuid4())
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/api/docs"):
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP)
    else:
        response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    if request.path.startswith("/api/v1/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    """Install the hooks; the request id comes first so even early errors carry it."""
    app.before_request(_assign_request_id)
    app.before_request(_check_body)
    app.after_request(_finish)
