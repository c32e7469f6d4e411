"""Extensions, created unbound here and bound to an app by ``create_app``.

flask-smorest's ``Api`` holds one app's OpenAPI document, so ``create_app`` makes one per app.
"""

from __future__ import annotations

import http
from typing import Any

from flask import current_app, request
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_smorest import Api as _Api
from werkzeug.exceptions import HTTPException

from .config import Settings
from .crypto.keyring import Keyring
from .database import Database
from .problems import PROBLEM_MEDIA_TYPE, ProblemSchema, handle_http_exception


class Api(_Api):  # type: ignore[misc]
    """flask-smorest's Api answering, and documenting, every error as RFC 9457 problem+json."""

    ERROR_SCHEMA = ProblemSchema
    #: No catch-all ``default``: each operation declares the statuses it answers (``DeclaredRefusals``).
    DEFAULT_ERROR_RESPONSE_NAME = None

    def init_app(self, app: Any, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        """Bind to ``app``, declaring the shared refusals on every operation."""
        from .spec_plugin import DeclaredRefusals

        spec_kwargs = {"extra_plugins": [DeclaredRefusals()], **(spec_kwargs or {})}
        super().init_app(app, spec_kwargs=spec_kwargs)

    def _register_responses(self) -> None:
        """Document error responses as ``application/problem+json``, not flask-smorest's shape."""
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": ProblemSchema}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            "DEFAULT_ERROR",
            {"description": "Error", "content": {PROBLEM_MEDIA_TYPE: {"schema": ProblemSchema}}},
            lazy=True,
        )

    def _register_pagination_header(self) -> None:
        """Lists page with keyset cursors, not flask-smorest's page numbers: no header to document."""

    def handle_http_exception(self, error: HTTPException) -> Any:
        """Answer as a problem, not flask-smorest's own error shape."""
        return handle_http_exception(error)


def client_address() -> str:
    """The caller's address (``ProxyFix`` makes it the real one behind trusted proxies)."""
    return request.remote_addr or "unknown"


def keyring() -> Keyring:
    """The app's keyring."""
    ring: Keyring = current_app.extensions["nrm_keyring"]
    return ring


def settings() -> Settings:
    """The app's settings, read once by ``create_app``: the services' one way to the configuration."""
    found: Settings = current_app.extensions["nrm_settings"]
    return found


db = Database()
jwt = JWTManager()
limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=True)
