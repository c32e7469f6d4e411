"""Authorisation at the edge: every API view declares the permission it requires.

``requires`` authenticates the bearer token, checks the role's permission (a refusal is a domain
error, audited by the error boundary) and hands the view an ``Actor``. ``public`` marks the few
views anyone may call. A test walks the URL map and fails for any ``/api`` endpoint that declares neither.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import jwt as pyjwt
from flask import g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException, NoAuthorizationError, RevokedTokenError
from flask_smorest import Blueprint

from .. import metrics
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..errors import Forbidden, Unauthenticated
from ..extensions import client_address
from ..permissions import Permission, role_allows

PUBLIC = "public"
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_REFUSALS = {
    "401": {"description": "No valid access token", "content": _PROBLEM},
    "403": {"description": "The role lacks the permission", "content": _PROBLEM},
}
View = TypeVar("View", bound=Callable[..., Any])


def request_actor(subject: str = "anonymous", agency: str | None = None, role: str | None = None,
                  token_id: str | None = None) -> Actor:
    """An actor carrying this request's id and address."""
    return Actor(subject, agency, role, g.get("request_id"), client_address(), token_id, g.get("client_request_id"))


def current_actor() -> Actor:
    """The actor ``requires`` authenticated for this request."""
    actor: Actor = g.actor
    return actor


def current_claims() -> dict[str, Any]:
    """The claims of the access token of this request."""
    return dict(get_jwt())


def public(view: View) -> View:
    """Mark a view callable without a token (sign-in, key discovery)."""
    view.__permission__ = PUBLIC  # type: ignore[attr-defined]
    return view


#: A person's token (sign-in) or an agency system's (OAuth 2.0 client credentials): either is a Bearer JWT.
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"clientCredentials": []}]


def requires(permission: Permission) -> Callable[[View], View]:
    """Require a valid access token whose role holds ``permission``."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.actor = authenticate(permission)
            return view(*args, **kwargs)

        wrapper.__permission__ = permission  # type: ignore[attr-defined]
        documented = Blueprint.doc(security=SECURITY, responses=_REFUSALS,
                                   **{"x-permission": permission.value})(wrapper)
        documented.__permission__ = permission
        return documented  # type: ignore[no-any-return]

    return decorate


def authenticate(permission: Permission) -> Actor:
    """Return the request's actor, or refuse with 401 or 403 (the error boundary audits it)."""
    resource = f"path:{request.path[:190]}"
    try:
        verify_jwt_in_request()
    except (JWTExtendedException, pyjwt.PyJWTError) as error:
        reason = _reason(error)
        metrics.token_refused("access", reason)
        challenge = "Bearer" if reason == "missing_token" else 'Bearer error="invalid_token"'
        raise Unauthenticated(_DETAILS[reason], reason=reason, resource=resource,
                              action=AuditAction.REQUEST_AUTHENTICATE,
                              headers={"WWW-Authenticate": challenge}) from None
    claims = get_jwt()
    actor = request_actor(claims["sub"], claims.get("agency"), claims.get("role"), claims.get("jti"))
    g.actor = actor
    if not role_allows(actor.role, permission):
        raise Forbidden(f"the role {actor.role!r} may not {permission.value}", reason="role_forbidden",
                        resource=resource)
    return actor


_DETAILS = {
    "missing_token": "an access token is required (Authorization: Bearer …)",
    "expired_token": "the access token has expired",
    "revoked_token": "the access token has been revoked",
    "invalid_token": "the access token is not valid here",
}


def _reason(error: Exception) -> str:
    if isinstance(error, NoAuthorizationError):
        return "missing_token"
    if isinstance(error, pyjwt.ExpiredSignatureError):
        return "expired_token"
    if isinstance(error, RevokedTokenError):
        return "revoked_token"
    return "invalid_token"
