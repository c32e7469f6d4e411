"""Sign-in for people: argon2id password, TOTP once enrolled, lockout after repeated failures."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from ..audit import service as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..crypto import CryptoError
from ..crypto.passwords import match_totp, verify_password
from ..database import utcnow
from ..errors import DomainError
from ..extensions import db
from . import tokens
from .models import User
from .service import Grant

LOCK_AFTER_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)


class LoginRefused(DomainError):
    """Wrong credentials: the same answer whichever part was wrong."""

    status, slug, title = 401, "invalid-credentials", "Invalid credentials"


class OtpRequired(DomainError):
    """The password was right but the account needs its TOTP code."""

    status, slug, title = 401, "otp-required", "One-time code required"


class AccountLocked(DomainError):
    """Too many failures: the account is locked for a while."""

    status, slug, title = 401, "account-locked", "Account locked"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


def login(username: str, password: str, otp: str | None, actor: Actor) -> Grant:
    """Check a person's credentials and issue an access token; every attempt is audited."""
    now = utcnow()
    user = db.session.scalar(select(User).where(User.username == username))
    if user is not None:
        actor = replace(actor, subject=f"user:{user.username}", agency=user.agency_id, role=user.role)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        _deny(actor, "locked")
        seconds = int((user.locked_until - now).total_seconds()) + 1
        raise AccountLocked("too many failed attempts; try again later", seconds)
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or user.disabled_at is not None:
        _deny(actor, "unknown_user" if user is None else "disabled")
        raise LoginRefused("wrong username, password or code")
    if not password_ok:
        _fail(user, actor, "bad_password")
    if user.totp_sealed is not None:
        _check_otp(user, otp, actor)
    user.failed_attempts = 0
    user.locked_until = None
    token, seconds = tokens.mint(f"user:{user.username}", user.agency_id, user.role)
    audit.record(actor, AuditAction.AUTH_LOGIN, "allowed", resource=f"user:{user.username}")
    db.session.commit()
    return Grant(token, seconds)


def _check_otp(user: User, otp: str | None, actor: Actor) -> None:
    if not otp:
        _deny(actor, "otp_required")
        raise OtpRequired("this account signs in with a one-time code: send otp")
    try:
        secret = tokens.keyring().unseal(user.totp_sealed or b"", f"user:{user.username}:totp").decode()
    except CryptoError:
        _deny(actor, "totp_unreadable", outcome="failed")
        raise LoginRefused("wrong username, password or code") from None
    step = match_totp(secret, otp)
    if step is None:
        _fail(user, actor, "bad_otp")
    elif user.totp_last_step is not None and step <= user.totp_last_step:
        _fail(user, actor, "reused_otp")
    user.totp_last_step = step


def _fail(user: User, actor: Actor, reason: str) -> None:
    user.failed_attempts += 1
    if user.failed_attempts >= LOCK_AFTER_FAILURES:
        user.locked_until = utcnow() + LOCK_FOR
        user.failed_attempts = 0
    audit.record(actor, AuditAction.AUTH_LOGIN, "denied", resource=f"user:{user.username}", reason=reason)
    db.session.commit()
    raise LoginRefused("wrong username, password or code")


def _deny(actor: Actor, reason: str, outcome: str = "denied") -> None:
    resource = actor.subject if actor.subject.startswith("user:") else None
    audit.record_refusal(actor, AuditAction.AUTH_LOGIN, reason=reason, resource=resource, outcome=outcome)
