"""Sign-in for people: argon2id password, TOTP once enrolled, throttled per account, address, device.

Every failure (unknown user, disabled account, wrong password, missing, wrong or reused code)
gets the one same answer, costs one password hash, and counts against the attempt's windows;
nothing locks an account for everyone (see ``limits``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update

from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..crypto import CryptoError
from ..crypto.passwords import match_totp, verify_password
from ..errors import DomainError
from ..extensions import db, keyring
from . import devices, limits, tokens
from .models import User

REFUSED = "wrong username, password or one-time code (an account enrolled in TOTP must send otp)"


class LoginRefused(DomainError):
    """Wrong credentials: the same answer whichever part was wrong, and for unknown accounts."""

    status, slug, title = 401, "invalid-credentials", "Invalid credentials"


@dataclass(frozen=True)
class LoginGrant:
    """An access token for a person, and the device token to present next time."""

    access_token: str
    expires_in: int
    device_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type


def login(username: str, password: str, otp: str | None, device_token: str | None, actor: Actor) -> LoginGrant:
    """Check a person's credentials and issue an access token; every attempt is audited."""
    user, device = authenticate(username, password, otp, device_token, actor)
    token, seconds = tokens.mint(f"user:{user.username}", user.agency_id, user.role, user.token_version)
    return LoginGrant(token, seconds, device_token if device and device_token else devices.issue(user))


def authenticate(username: str, password: str, otp: str | None, device_token: str | None,
                 actor: Actor) -> tuple[User, str | None]:
    """Password and code in one attempt (the API): the user and the device id; audited and counted."""
    attempt = _attempt(username, device_token, actor, lambda user: _check(user, password, otp))
    return attempt.succeed(), attempt.device


@dataclass(frozen=True)
class CodeNeeded:
    """A password accepted for an account enrolled in TOTP: the sign-in is not done until its code."""

    username: str
    token_version: int


def authenticate_password(username: str, password: str, device_token: str | None,
                          actor: Actor) -> tuple[User | CodeNeeded, str | None]:
    """Step one of a two-step sign-in (the web form): the password; then ``authenticate_code`` if enrolled.

    The same limits and audit as ``authenticate``: a wrong password is one counted, audited failure;
    an accepted password for an enrolled account gives its slots back and signs nobody in yet.
    """
    attempt = _attempt(username, device_token, actor, lambda user: _check_password(user, password))
    if attempt.user.totp_sealed is None:
        return attempt.succeed(), attempt.device
    limits.release(attempt.reservation)
    return CodeNeeded(attempt.user.username, attempt.user.token_version), attempt.device


def authenticate_code(pending: CodeNeeded, otp: str, device_token: str | None, actor: Actor) -> tuple[User, str | None]:
    """Step two: the account's current code, once; refused if the account changed since its password."""

    def check(user: User | None) -> str | None:
        if user is None:
            return "unknown_user"
        if user.disabled_at is not None:
            return "disabled"
        if user.token_version != pending.token_version:
            return "stale_sign_in"
        if user.totp_sealed is None:
            return None
        return _use_code(user, otp) if otp else "otp_missing"

    attempt = _attempt(pending.username, device_token, actor, check)
    return attempt.succeed(), attempt.device


@dataclass(frozen=True)
class _Attempt:
    """One sign-in attempt whose credentials held: its slots are still taken until it succeeds."""

    user: User
    actor: Actor
    device: str | None
    reservation: limits.Reservation

    def succeed(self) -> User:
        """Record the sign-in, commit, and give the slots back."""
        audit.record(self.actor, AuditAction.AUTH_LOGIN, "allowed", resource=f"user:{self.user.username}")
        db.session.commit()
        limits.release(self.reservation)
        return self.user


def _attempt(username: str, device_token: str | None, actor: Actor,
             check: Callable[[User | None], str | None]) -> _Attempt:
    """Take the attempt's slots and check it; a refusal is audited, counted and raised."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is not None:
        actor = replace(actor, subject=f"user:{user.username}", agency=user.agency_id, role=user.role)
    device = devices.verify(user, device_token)
    try:
        reservation = limits.reserve(limits.windows_for(username, actor.address or "unknown", device), time.time())
    except limits.Throttled:
        _deny(actor, "rate_limited")
        raise
    reason = check(user)
    if reason is not None or user is None:
        _deny(actor, reason or "unknown_user", outcome="failed" if reason == "totp_unreadable" else "denied")
        raise LoginRefused(REFUSED)
    return _Attempt(user, actor, device, reservation)


def _check(user: User | None, password: str, otp: str | None) -> str | None:
    """Why the credentials fail (None if they hold); the password is hashed whatever the case."""
    reason = _check_password(user, password)
    if reason is not None or user is None or user.totp_sealed is None:
        return reason
    if not otp:
        return "otp_missing"
    return _use_code(user, otp)


def _check_password(user: User | None, password: str) -> str | None:
    """Why the password fails (None if it holds); hashed whatever the case, so every answer costs the same."""
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        return "unknown_user"
    if user.disabled_at is not None:
        return "disabled"
    if not password_ok:
        return "bad_password"
    return None


def _use_code(user: User, otp: str) -> str | None:
    """Accept a current code once: an atomic compare-and-set of the last step used."""
    try:
        secret = keyring().unseal(user.totp_sealed or b"", f"user:{user.username}:totp").decode()
    except CryptoError:
        return "totp_unreadable"
    step = match_totp(secret, otp)
    if step is None:
        return "bad_otp"
    # Two requests with one code: the second UPDATE waits for the first's row lock, then
    # finds the step taken and changes nothing.
    claimed = db.session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    return None if cast(CursorResult[Any], claimed).rowcount == 1 else "reused_otp"


def _deny(actor: Actor, reason: str, outcome: str = "denied") -> None:
    resource = actor.subject if actor.subject.startswith("user:") else None
    audit.record_refusal(actor, AuditAction.AUTH_LOGIN, reason=reason, resource=resource, outcome=outcome)
