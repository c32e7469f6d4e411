"""Endpoints outside the API proper: key discovery, liveness, readiness, the docs' assets."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from sqlalchemy import text
from swagger_ui_bundle import swagger_ui_path

from .accounts.auth import public
from .accounts.tokens import keyring
from .extensions import db

bp = Blueprint("system", __name__)


@bp.get("/.well-known/jwks.json")
@public
def jwks() -> Response:
    """The service's public signing keys (tokens, receipts, checkpoints)."""
    response = jsonify(keyring().jwks())
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
    return send_from_directory(str(swagger_ui_path), filename)
