"""Request hygiene every endpoint shares: request ids, strict JSON, media types, headers."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from .audit.actions import AuditAction
from .crypto.canonical import MAX_DEPTH, DuplicateMemberError, TooDeepError, loads_strict
from .errors import DomainError
from .problems import Problem

#: What of a client's ``X-Request-Id`` is kept (beside the service's own id): 128 characters, each
#: outside this set replaced, so nothing the client sends lands in the log as it was sent.
_UNSAFE_IN_REQUEST_ID = re.compile(r"[^A-Za-z0-9._:/+=@-]")
MAX_CLIENT_REQUEST_ID = 128
#: Every id in a path (UUIDs, agency ids, codes) is at most this long; longer is no id of ours.
MAX_PATH_ID = 64
_BODY_METHODS = {"POST", "PUT", "PATCH"}
#: Swagger UI's page carries an inline script; everything it loads comes from this host.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
)
#: Endpoints that take a form-encoded body and answer OAuth errors themselves.
FORM_ENDPOINTS = {"auth.token"}


def _assign_request_id() -> None:
    g.pop("actor", None)  # an app context kept open across requests (tests) must not lend one request's actor
    g.request_id = str(uuid.uuid4())
    incoming = request.headers.get("X-Request-Id", "")[:MAX_CLIENT_REQUEST_ID]
    g.client_request_id = _UNSAFE_IN_REQUEST_ID.sub("_", incoming) or None


class BadRequest(DomainError):
    """A request refused before its view: an id too long, a body that is no strict JSON."""

    def __init__(self, slug: str, title: str, detail: str, reason: str | None = None) -> None:
        super().__init__(detail, action=AuditAction.REQUEST_REFUSE, reason=reason or slug.replace("-", "_"))
        self.slug, self.title = slug, title


def _check_path_ids() -> None:
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and len(value) > MAX_PATH_ID:
            raise BadRequest("invalid-id", "Invalid id", f"an id in a path is at most {MAX_PATH_ID} characters",
                             "id_too_long")


def _check_body() -> None:
    if request.method not in _BODY_METHODS or not request.path.startswith("/api/"):
        return
    if request.endpoint in FORM_ENDPOINTS or request.routing_exception is not None:
        return  # no such route or method: its 404 or 405 says more than a 415 would
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
        raise BadRequest("duplicate-member", "Duplicate member name",
                         "a JSON object in the body names the same member twice") from None
    except TooDeepError:
        raise BadRequest("json-too-deep", "JSON nested too deeply",
                         f"the body nests arrays and objects more than {MAX_DEPTH} levels deep") from None
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("malformed-json", "Malformed JSON", "the body is not well-formed JSON") from None


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
    app.before_request(_check_path_ids)
    app.before_request(_check_body)
    app.after_request(_finish)
