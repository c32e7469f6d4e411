"""Flood limits on sign-in: 10 failures per account or per address in 15 minutes, then 429."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ..audit import service as audit
from ..audit.actions import AuditAction
from ..extensions import client_address
from .auth import request_actor

by_address = "10 per 15 minutes"
by_account = "10 per 15 minutes"


def address_key() -> str:
    """Count failures per calling address."""
    return f"login-address:{client_address()}"


def account_key() -> str:
    """Count failures per account named, whatever address they come from."""
    body = request.get_json(silent=True)
    username = body.get("username") if isinstance(body, dict) else None
    return f"login-account:{username.lower()[:64] if isinstance(username, str) else ''}"


def failed(response: Response) -> bool:
    """Only refused attempts count against the limits."""
    return response.status_code == 401


def breached(_limit: Any) -> None:
    """Audit the attempt the limit refused; Flask-Limiter then answers 429 with Retry-After."""
    audit.record_refusal(request_actor(), AuditAction.AUTH_LOGIN, reason="rate_limited")
