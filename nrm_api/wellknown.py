"""Endpoints outside the API proper: key discovery, liveness, readiness, the docs' assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import marshmallow as ma
from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from flask_smorest import Blueprint as ApiBlueprint
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

#: Discovery and probes, in the OpenAPI document beside the API (outside its /api/v1 prefix).
blp = ApiBlueprint("system", __name__, description="Key discovery, OAuth metadata, liveness and readiness")
#: The docs page's own files: not part of the contract.
bp = Blueprint("docs", __name__)


#: Discovery answers may be kept a few minutes.
CACHED = {"Cache-Control": {"description": "How long a copy may be kept.", "schema": {"type": "string"}}}


class PublicJwkSchema(ma.Schema):
    """One public Ed25519 signing key (RFC 8037)."""

    kty = ma.fields.String(required=True, validate=ma.validate.Equal("OKP"))
    crv = ma.fields.String(required=True, validate=ma.validate.Equal("Ed25519"))
    x = ma.fields.String(required=True, metadata={"description": "The public key, base64url (RFC 8037)."})
    kid = ma.fields.String(required=True, metadata={"description": "The RFC 7638 thumbprint: the `kid` of "
                                                    "what this key signed."})
    use = ma.fields.String(required=True, validate=ma.validate.Equal("sig"))


class JwksSchema(ma.Schema):
    """The service's public keys: current and earlier versions (tokens, receipts, checkpoints, answers)."""

    keys = ma.fields.List(ma.fields.Nested(PublicJwkSchema), required=True)


class AuthorizationServerSchema(ma.Schema):
    """RFC 8414 authorization server metadata."""

    issuer = ma.fields.String(required=True, metadata={"description": "The `aud` of client assertions."})
    token_endpoint = ma.fields.String(required=True)
    jwks_uri = ma.fields.String(required=True)
    token_endpoint_auth_methods_supported = ma.fields.List(ma.fields.String(), required=True)
    token_endpoint_auth_signing_alg_values_supported = ma.fields.List(ma.fields.String(), required=True)
    grant_types_supported = ma.fields.List(ma.fields.String(), required=True)
    response_types_supported = ma.fields.List(ma.fields.String(), required=True,
                                              metadata={"description": "Empty: no authorization endpoint."})


class LivenessSchema(ma.Schema):
    """The process answers."""

    status = ma.fields.String(required=True, validate=ma.validate.Equal("ok"))


class ReadinessChecksSchema(ma.Schema):
    """Each dependency, true when it answers."""

    database = ma.fields.Boolean(required=True)
    keyring = ma.fields.Boolean(required=True)


class ReadinessSchema(ma.Schema):
    """Whether the service can take requests, and which dependency does not answer."""

    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["ready", "not ready"]))
    checks = ma.fields.Nested(ReadinessChecksSchema, required=True)



@blp.route("/.well-known/jwks.json", methods=["GET"])
@public
@blp.response(200, JwksSchema, headers=CACHED)
def jwks() -> Response:
    """The service's public signing keys (tokens, receipts, checkpoints)."""
    response = jsonify(keyring().jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@blp.route("/.well-known/oauth-authorization-server", methods=["GET"])
@public
@blp.response(200, AuthorizationServerSchema, headers=CACHED)
def authorization_server() -> Response:
    """RFC 8414 metadata: the issuer (`aud` of client assertions) and token endpoint, whatever URL reached us."""
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


@blp.route("/healthz", methods=["GET"])
@public
@blp.response(200, LivenessSchema)
def healthz() -> Any:
    """Liveness: the process answers."""
    return {"status": "ok"}


@blp.route("/readyz", methods=["GET"])
@public
@blp.response(200, ReadinessSchema)
@blp.alt_response(503, schema=ReadinessSchema, description="Not ready: the check that failed is false")
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
