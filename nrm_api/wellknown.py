"""Endpoints outside the API proper: key discovery, liveness, readiness, the docs' assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from sqlalchemy import text

from .accounts.auth import public
from .accounts.tokens import TOKEN_PATH
from .extensions import db, keyring
from .problems import Problem

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: Swagger UI 5 (renders OpenAPI 3.1), installed by ``make`` with ``npm ci`` from package-lock.json.
SWAGGER_UI_DIR = PROJECT_ROOT / "node_modules" / "swagger-ui-dist"
#: The files the docs page loads; nothing else of the npm package (source maps, its package.json) is served.
SWAGGER_UI_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                              "favicon-16x16.png", "favicon-32x32.png", "oauth2-redirect.html",
                              "oauth2-redirect.js"})
#: The integrators' contract, which the OpenAPI document's ``info`` and ``externalDocs`` link to.
CONTRACT = PROJECT_ROOT / "docs" / "contract.md"

bp = Blueprint("system", __name__)


@bp.get("/.well-known/jwks.json")
@public
def jwks() -> Response:
    """The service's public signing keys (tokens, receipts, checkpoints)."""
    response = jsonify(keyring().jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/.well-known/oauth-authorization-server")
@public
def authorization_server() -> Response:
    """RFC 8414 metadata: the issuer (``aud`` of client assertions) and token endpoint, whatever URL reached us."""
    issuer = current_app.config["BASE_URL"]
    response = jsonify({
        "issuer": issuer,
        "token_endpoint": f"{issuer}{TOKEN_PATH}",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["Ed25519", "EdDSA"],
        "grant_types_supported": ["client_credentials"],
        # RFC 8414 requires the member; no authorization endpoint, so no response type.
        "response_types_supported": [],
    })
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/healthz")
@public
def healthz() -> Any:
    """Liveness: the process answers."""
    return {"status": "ok"}


@bp.get("/readyz")
@public
def readyz() -> Any:
    """Readiness: the database answers and the keyring is open."""
    checks = {"database": _database_ok(), "keyring": "nrm_keyring" in current_app.extensions}
    ready = all(checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503


def _database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        return True
    except Exception:  # noqa: BLE001 - any failure means not ready; the detail stays out of the answer
        db.session.close()
        return False


@bp.get("/api/docs/static/<path:filename>")
@public
def docs_static(filename: str) -> Response:
    """Swagger UI's files, served locally: the docs page needs no outside host."""
    if filename not in SWAGGER_UI_FILES:
        raise Problem(404, "not-found", "Not Found")
    if not SWAGGER_UI_DIR.is_dir():
        raise Problem(404, "not-found", "Not Found", "Swagger UI is not installed: run `make` (npm ci)")
    return send_from_directory(str(SWAGGER_UI_DIR), filename, max_age=3600)


@bp.get("/api/docs/contract.md")
@public
def contract() -> Response:
    """The public contract for integrators, as the repository carries it."""
    if not CONTRACT.is_file():
        raise Problem(404, "not-found", "Not Found")
    return send_from_directory(str(CONTRACT.parent), CONTRACT.name, mimetype="text/markdown")
