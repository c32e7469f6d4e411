"""Extensions, created unbound here and bound to an app by ``create_app``.

flask-smorest's ``Api`` holds one app's OpenAPI document, so ``create_app`` makes one per app.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_smorest import Api as _Api
from werkzeug.exceptions import HTTPException

from .database import Database
from .errors import handle_http_exception


class Api(_Api):  # type: ignore[misc]
    """flask-smorest's Api answering every error as RFC 9457 problem+json."""

    def handle_http_exception(self, error: HTTPException) -> Any:
        """Answer as a problem, not flask-smorest's own error shape."""
        return handle_http_exception(error)


def client_address() -> str:
    """The caller's address (``ProxyFix`` makes it the real one behind trusted proxies)."""
    return request.remote_addr or "unknown"


db = Database()
jwt = JWTManager()
limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=True)
