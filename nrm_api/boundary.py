"""The API's one refusal boundary: a refused request is rolled back, audited and answered here.

Services raise domain errors and record nothing of a refusal; views let them pass. Every
``DomainError``, and every 4xx HTTP error on an ``/api`` route (flask-smorest's and webargs' 422
included), reaches this boundary, which discards the request's work, records one ``denied`` (or
``failed``) event — action from the endpoint's declared permission unless the error names one,
reason from the error — commits it, and answers the problem. Unauthenticated refusals go through
``audit.refusals``: a flood from one address is a count, and past its limit the answer is 429.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from . import problems
from .accounts.auth import PUBLIC, request_actor
from .audit import events as audit
from .audit import refusals
from .audit.actions import AuditAction
from .errors import DomainError
from .extensions import db

#: How the web form answers a refusal of one of its pages: status and error to a page.
PageAnswer = Callable[[int, Exception], Response]
#: Answers that are no refusal of the request's own to audit: the limiter's, whose counting is the point.
_NOT_AUDITED = {429}


def declared_action() -> StrEnum | str:
    """The permission the endpoint declares; ``request.refuse`` for public or unknown routes."""
    view = current_app.view_functions.get(request.endpoint or "")
    permission = getattr(view, "__permission__", None)
    if permission is None or permission == PUBLIC:
        return AuditAction.REQUEST_REFUSE
    return permission  # type: ignore[no-any-return]


def audit_refusal(reason: str, *, resource: str | None, action: StrEnum | str | None = None,
                  outcome: str = "denied") -> int | None:
    """Discard the request's work, record its refusal and commit; the seconds to wait once over the limit."""
    session = db.session
    if audit.refusal_recorded(session, g.get("request_id")):
        return None  # a path that answers itself (sign-in, the token endpoint) recorded it already
    actor = g.get("actor")
    if actor is None:
        return refusals.record(request_actor(), action or declared_action(), reason=reason, resource=resource)
    audit.record_refusal(actor, action or declared_action(), reason=reason, resource=resource, outcome=outcome)
    return None


def _too_many(wait: int) -> Response:
    return problems.Problem(429, "rate-limited", "Too Many Requests", "too many refused requests from here",
                            headers={"Retry-After": str(wait)}).answer()


def is_page_request() -> bool:
    """Whether the request is for a page of the web form (its Blueprint, or no route outside the API's)."""
    if request.blueprint and request.blueprint in current_app.extensions.get("nrm_page_blueprints", ()):
        return True
    return request.url_rule is None and not request.path.startswith(("/api/", "/.well-known/"))


def _page_answer() -> PageAnswer | None:
    answer: PageAnswer | None = current_app.extensions.get("nrm_page_answer")
    return answer if answer is not None and is_page_request() else None


def _too_many_or_page(wait: int, error: Exception) -> Response:
    page = _page_answer()
    if page is None:
        return _too_many(wait)
    response = page(429, error)
    response.headers["Retry-After"] = str(wait)
    return response


def handle_domain_error(error: DomainError) -> Response:
    """Audit a service's refusal, then answer it as its problem (or, for a page, as a page)."""
    wait = audit_refusal(error.reason, resource=error.resource, action=error.action, outcome=error.outcome)
    if wait is not None:
        return _too_many_or_page(wait, error)
    page = _page_answer()
    if page is not None:
        response = page(error.status, error)
        response.headers.extend(error.headers)
        return response
    return problems.handle_domain_error(error)


def handle_http_exception(error: HTTPException) -> Response:
    """Audit a 4xx on an API route or a page (unknown route, bad method, unparsable query, 422), then answer it."""
    status = error.code or 500
    audited = request.path.startswith("/api/") or is_page_request()
    if audited and 400 <= status < 500 and status not in _NOT_AUDITED:
        slug = getattr(error, "slug", None) or problems.slug_of(status)
        wait = audit_refusal(slug.replace("-", "_"), resource=f"path:{request.path[:190]}")
        if wait is not None:
            return _too_many_or_page(wait, error)
    page = _page_answer()
    if page is not None:
        response = page(status, error)
        valid_methods = getattr(error, "valid_methods", None)
        if status == 405 and valid_methods:
            response.headers["Allow"] = ", ".join(valid_methods)
        return response
    return problems.handle_http_exception(error)


def handle_unexpected(error: Exception) -> Response:
    """Log an unhandled exception (where, never what) and answer a bare 500, or a page saying so."""
    answer = problems.handle_unexpected(error)
    page = _page_answer()
    return page(500, error) if page is not None else answer


def answer_pages_with(app: Flask, answer: PageAnswer, blueprint: str) -> None:
    """Let the web form answer the refusals of the pages of ``blueprint`` (audited here all the same)."""
    app.extensions["nrm_page_answer"] = answer
    app.extensions.setdefault("nrm_page_blueprints", set()).add(blueprint)


def init_app(app: Flask) -> None:
    """Register the boundary for domain and HTTP errors, and the bare 500 for the rest."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
