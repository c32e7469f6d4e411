"""Sign-in endpoints: client credentials, people's login, token revocation."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_smorest import Blueprint

from ..extensions import limiter
from . import limits as login_limits
from . import login as login_service
from . import service
from .auth import current_actor, current_claims, public, request_actor, requires
from .permissions import Permission
from .schemas import LoginSchema, OAuthErrorSchema, TokenRequestSchema, TokenSchema

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
@limiter.limit(login_limits.by_address, key_func=login_limits.address_key,
               deduct_when=login_limits.failed, on_breach=login_limits.breached)
@limiter.limit(login_limits.by_account, key_func=login_limits.account_key,
               deduct_when=login_limits.failed, on_breach=login_limits.breached)
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
def login(credentials: dict[str, Any]) -> Any:
    """Sign a person in with password and, once enrolled, a TOTP code."""
    return login_service.login(credentials["username"], credentials["password"], credentials["otp"],
                               request_actor())


@blp.route("/revoke", methods=["POST"])
@requires(Permission.TOKEN_REVOKE)
@blp.response(204)
def revoke() -> None:
    """Revoke the access token this request carries (sign out)."""
    service.revoke_token(current_actor(), current_claims())


def oauth_error(error: service.OAuthError) -> Response:
    """Answer a token endpoint refusal as RFC 6749 §5.2 says."""
    response = jsonify(error=error.error, error_description=error.description)
    response.status_code = error.status
    response.headers["Cache-Control"] = "no-store"
    return response
