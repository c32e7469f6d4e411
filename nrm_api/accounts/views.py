"""Sign-in endpoints: client credentials, people's login, token revocation."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_smorest import Blueprint

from ..permissions import Permission
from . import login as login_service
from . import service
from .auth import current_actor, current_claims, public, request_actor, requires
from .schemas import LoginSchema, LoginTokenSchema, OAuthErrorSchema, TokenRequestSchema, TokenSchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign-in and tokens")


@blp.route("/token", methods=["POST"])
@public
@blp.arguments(TokenRequestSchema, location="form")
@blp.response(200, TokenSchema)
@blp.alt_response(400, schema=OAuthErrorSchema, description="OAuth error (RFC 6749 §5.2)")
@blp.alt_response(401, schema=OAuthErrorSchema, description="invalid_client")
def token(params: dict[str, Any]) -> Any:
    """Issue an access token to an agency system (client credentials, private_key_jwt)."""
    return service.issue_client_token(params, request_actor())


@blp.route("/login", methods=["POST"])
@public
@blp.arguments(LoginSchema)
@blp.response(200, LoginTokenSchema)
@blp.alt_response(401, schema="Problem", content_type="application/problem+json",
                  description="invalid-credentials: one answer for every failure, each counted")
@blp.alt_response(429, schema="Problem", content_type="application/problem+json",
                  description="rate-limited: too many failures for this account, address or device (Retry-After)")
def login(credentials: dict[str, Any]) -> Any:
    """Sign a person in with password and, once enrolled, a TOTP code."""
    return login_service.login(credentials["username"], credentials["password"], credentials["otp"],
                               credentials["device_token"], request_actor())


@blp.route("/revoke", methods=["POST"])
@requires(Permission.TOKEN_REVOKE)
@blp.response(204)
def revoke() -> None:
    """Revoke the access token this request carries (sign out)."""
    service.revoke_token(current_actor(), current_claims())


def oauth_error(error: service.OAuthError) -> Response:
    """Answer a token endpoint refusal as RFC 6749 §5.2 says, dumped by the schema the spec declares for it."""
    response = jsonify(OAuthErrorSchema().dump({"error": error.error, "error_description": error.description}))
    response.status_code = error.status
    response.headers["Cache-Control"] = "no-store"
    return response
