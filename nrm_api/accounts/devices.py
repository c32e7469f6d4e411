"""Device tokens: what a person's client keeps after signing in, to be known next time.

A device token is a random id with an HMAC (keyed from ``NRM_SECRET_KEY``) over the username,
the id and the account's token version: it names no secret, is good only for its account, and
``tokens revoke --principal`` (which raises the version) voids it. It is a JSON field, not a
cookie: the login endpoint is an API for scripts, which keep it as they keep their TOTP seed,
and a cookie would bring CSRF and cookie-jar handling for no gain.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from ..extensions import settings
from .models import User


def issue(user: User) -> str:
    """A new device token for ``user``."""
    device = secrets.token_urlsafe(16)
    return f"{device}.{_mac(user, device)}"


def verify(user: User | None, token: str | None) -> str | None:
    """The device id of a valid token for ``user``, else None."""
    if user is None or not token or token.count(".") != 1:
        return None
    device, mac = token.split(".")
    return device if device and hmac.compare_digest(mac, _mac(user, device)) else None


def _mac(user: User, device: str) -> str:
    key = hmac.new(settings().secret_key.encode(), b"nrm-api device token", hashlib.sha256).digest()
    message = "\x00".join((user.username, str(user.token_version), device)).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
