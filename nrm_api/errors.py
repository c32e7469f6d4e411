"""RFC 9457 problem details: the one shape of every error the API returns."""

from __future__ import annotations

import traceback
from enum import StrEnum
from typing import Any

import marshmallow as ma
from flask import Response, current_app, json
from werkzeug.exceptions import HTTPException, InternalServerError

PROBLEM_TYPE_BASE = "urn:nrm:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"

#: Flask's and werkzeug's own errors, given stable problem types.
_TYPES_BY_STATUS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem: every error but the token endpoint's."""

    type = ma.fields.String(required=True, metadata={"example": "urn:nrm:problem:validation-failed"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    errors = ma.fields.Dict(metadata={"description": "Field errors, by location and field name."})


class Problem(HTTPException):
    """An error the API answers as ``application/problem+json``."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        errors: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description=detail or title)
        self.code = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.extra_headers = headers or {}


class DomainError(Exception):
    """A refusal by a service function; the API answers it as a problem, the CLI as a message.

    The door's one boundary audits it: ``reason`` (the slug, unless a site names it more exactly),
    ``resource`` when known, and ``action`` when not the door's declared permission.
    """

    status = 400
    slug = "bad-request"
    title = "Bad Request"
    #: ``failed`` for what is the service's fault, not the caller's.
    outcome = "denied"

    def __init__(self, detail: str, *, errors: Any = None, reason: str | None = None, resource: str | None = None,
                 action: StrEnum | str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.reason = reason or self.slug.replace("-", "_")
        self.resource = resource
        self.action = action
        self.headers: dict[str, str] = dict(headers or {})


class NotFoundError(DomainError):
    """The object does not exist, or the caller may not know that it does."""

    status, slug, title = 404, "not-found", "Not Found"


class ConflictError(DomainError):
    """The object exists already, or the change conflicts with its state."""

    status, slug, title = 409, "conflict", "Conflict"


class InvalidError(DomainError):
    """The input is well-formed but not acceptable."""

    status, slug, title = 422, "validation-failed", "Unprocessable Content"


class Unauthenticated(DomainError):
    """No valid access token, or a write's signature refused."""

    status, slug, title = 401, "invalid-token", "Unauthorized"


class BadSignature(Unauthenticated):
    """A signed write's ``X-JWS-Signature`` does not verify for this request."""

    title = "Signature refused"

    def __init__(self, code: str, detail: str, **kwargs: Any) -> None:
        super().__init__(detail, reason=f"signature_{code}", **kwargs)
        self.slug = f"signature-{code.replace('_', '-')}"


class Forbidden(DomainError):
    """The caller may know the object exists, but may not do this to it."""

    status, slug, title = 403, "forbidden", "Forbidden"


class ConsentRequired(Forbidden):
    """The person's consent does not cover this recipient or purpose."""

    slug, title = "consent-required", "Consent required"


class PreconditionRequired(DomainError):
    """A change needs ``If-Match`` with the current ETag."""

    status, slug, title = 428, "precondition-required", "Precondition Required"


class Stale(DomainError):
    """The ``If-Match`` names a representation that is no longer current."""

    status, slug, title = 412, "precondition-failed", "Precondition Failed"


class NotCanonical(DomainError):
    """A body that has no canonical form, so no signature can cover it."""

    status, slug, title = 400, "not-canonicalizable", "Body has no canonical form"


class IntegrityFailure(DomainError):
    """Stored data failed its integrity check: the service's failure, audited as such."""

    status, slug, title, outcome = 500, "integrity-failure", "Stored data failed its integrity check", "failed"


def handle_domain_error(error: DomainError) -> Response:
    """Answer a service refusal as a problem."""
    return problem_response(
        error.status, error.slug, error.title, error.detail, errors=error.errors, headers=error.headers
    )


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    errors: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build a problem+json response."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def slug_of(status: int) -> str:
    """The problem type of an HTTP status Flask or werkzeug answers."""
    return _TYPES_BY_STATUS.get(status, "error")


def handle_http_exception(error: HTTPException) -> Response:
    """Answer any HTTP error, ours or Flask's, as a problem; never with internal text."""
    if isinstance(error, Problem):
        return problem_response(
            error.code or 500, error.slug, error.title, error.detail,
            errors=error.errors, headers=error.extra_headers,
        )
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    headers = dict(data.get("headers") or {})
    valid_methods = getattr(error, "valid_methods", None)
    if status == 405 and valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    if status == 429:
        retry = error.get_headers().copy()
        headers.update({k: v for k, v in retry if k.lower() == "retry-after"})
    detail = None if isinstance(error, InternalServerError) else error.description
    return problem_response(
        status, _TYPES_BY_STATUS.get(status, "error"), error.name, detail, errors=errors, headers=headers
    )


def handle_unexpected(error: Exception) -> Response:
    """Answer an unhandled exception with a bare 500, logging where but not what.

    The exception's message, and the source lines of its traceback, may quote personal data or
    SQL parameters, so only its type and the places it passed through reach the log.
    """
    frames = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(error.__traceback__))
    current_app.logger.error("unhandled %s\n%s", type(error).__name__, frames)
    return handle_http_exception(InternalServerError())
