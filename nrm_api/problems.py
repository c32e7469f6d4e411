"""RFC 9457 problem details: the one shape of every error the API returns, dumped through ``ProblemSchema``."""

from __future__ import annotations

import traceback
from typing import Any

import marshmallow as ma
from flask import Response, current_app, json
from werkzeug.exceptions import HTTPException, InternalServerError

from .errors import DomainError

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


_PROBLEM = ProblemSchema()


class Problem(HTTPException):
    """An error the API answers as ``application/problem+json`` (raised, or answered at once with ``answer``)."""

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

    def answer(self) -> Response:
        """Answer as problem+json: the body through ``ProblemSchema``, with the headers."""
        body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + self.slug, "title": self.title, "status": self.code}
        if self.detail:
            body["detail"] = self.detail
        if self.errors is not None:
            body["errors"] = self.errors
        # the schema openapi.yaml publishes is the allow-list: nothing it does not name is sent
        response = Response(json.dumps(_PROBLEM.dump(body)), status=self.code, mimetype=PROBLEM_MEDIA_TYPE)
        for name, value in self.extra_headers.items():
            response.headers[name] = value
        return response


def handle_domain_error(error: DomainError) -> Response:
    """Answer a service refusal as a problem."""
    return Problem(error.status, error.slug, error.title, error.detail, errors=error.errors,
                   headers=error.headers).answer()


def slug_of(status: int) -> str:
    """The problem type of an HTTP status Flask or werkzeug answers."""
    return _TYPES_BY_STATUS.get(status, "error")


def handle_http_exception(error: HTTPException) -> Response:
    """Answer any HTTP error, ours or Flask's, as a problem; never with internal text."""
    if isinstance(error, Problem):
        return error.answer()
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
    return Problem(status, slug_of(status), error.name, detail, errors=errors, headers=headers).answer()


def handle_unexpected(error: Exception) -> Response:
    """Answer an unhandled exception with a bare 500, logging where but not what.

    The exception's message, and the source lines of its traceback, may quote personal data or
    SQL parameters, so only its type and the places it passed through reach the log.
    """
    frames = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(error.__traceback__))
    current_app.logger.error("unhandled %s\n%s", type(error).__name__, frames)
    return handle_http_exception(InternalServerError())
