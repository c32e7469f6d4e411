"""Password hashing with argon2id (RFC 9106 parameters) and TOTP codes (RFC 6238)."""

from __future__ import annotations

import hmac
import time
from functools import cache

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
TOTP_STEP_SECONDS = 30


@cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so both answers take as long.

    Made at the first sign-in, not at import: every command (an offline verify, an export) would
    otherwise pay one argon2id hash and its 64 MiB at start.
    """
    return _HASHER.hash("nrm-api: no such account")


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash, spend the same time and say no."""
    dummy = _dummy_hash()  # made at the first sign-in of either kind, so that neither answers sooner
    try:
        return _HASHER.verify(password_hash or dummy, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret."""
    return pyotp.random_base32()


def totp_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app enrols from."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def totp_now(secret: str, at: float | None = None) -> str:
    """The code for ``at`` (now by default): for tests and the demo printout."""
    return pyotp.TOTP(secret).at(at if at is not None else time.time())


def match_totp(secret: str, code: str, at: float | None = None) -> int | None:
    """Return the time step ``code`` is valid for, within one step of ``at`` (now by default).

    The caller refuses a step at or before the last one used, so that every code is good once.
    """
    totp = pyotp.TOTP(secret)
    now = at if at is not None else time.time()
    for offset in (0, -1, 1):
        moment = now + offset * TOTP_STEP_SECONDS
        if hmac.compare_digest(totp.at(moment), code):
            return totp.timecode(moment)
    return None
