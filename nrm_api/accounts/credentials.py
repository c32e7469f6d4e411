"""A person's own credentials: enrolling TOTP on first sign-in (web form), changing the password.

An enrolment's secret is sealed by the keyring in the session that started it, and becomes the
account's only when the person sends a current code made from it (that code is then used up, as
at sign-in). A password change checks the current password under the same limits as sign-in,
then raises the account's token version: every other session, access token and device token ends.
"""

from __future__ import annotations

import time

from sqlalchemy import select, update

from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..crypto import CryptoError
from ..crypto.passwords import hash_password, match_totp, new_totp_secret, totp_now, totp_uri, verify_password
from ..errors import ConflictError, InvalidError, NotFoundError
from ..extensions import db, keyring
from . import limits
from .admin import MIN_PASSWORD_LENGTH
from .login import LoginRefused
from .models import User, WebSession

ISSUER = "nrm-api"


def _context(user: User) -> str:
    return f"user:{user.username}:totp"


def _pending_context(user: User) -> str:
    return f"user:{user.username}:totp-pending"


def pending_secret(record: WebSession, user: User) -> tuple[str, str]:
    """The secret being enrolled in this session (a new one the first time) and its ``otpauth://`` URI."""
    if user.totp_sealed is not None:
        raise ConflictError("this account is enrolled in TOTP already", reason="totp_enrolled",
                            resource=f"user:{user.username}")
    secret = None
    if record.totp_pending is not None:
        try:
            secret = keyring().unseal(record.totp_pending, _pending_context(user)).decode()
        except CryptoError:
            secret = None
    if secret is None:
        secret = new_totp_secret()
        db.session.execute(update(WebSession).where(WebSession.id == record.id)
                           .values(totp_pending=keyring().seal(secret.encode(), _pending_context(user)))
                           .execution_options(synchronize_session=False))
        db.session.commit()
    return secret, totp_uri(secret, user.username, ISSUER)


def confirm_enrolment(actor: Actor, record: WebSession, user: User, code: str) -> None:
    """Make the session's pending secret the account's, if ``code`` is a current code of it; audited."""
    secret, _ = pending_secret(record, user)
    step = match_totp(secret, code.strip())
    if step is None:
        raise InvalidError("the code does not match: enter the code the app shows now",
                           errors={"otp": ["wrong code"]}, reason="bad_otp", resource=f"user:{user.username}",
                           action=AuditAction.USER_TOTP_ENROL)
    enrolled = db.session.execute(
        update(User).where(User.id == user.id, User.totp_sealed.is_(None))
        .values(totp_sealed=keyring().seal(secret.encode(), _context(user)), totp_last_step=step)
        .execution_options(synchronize_session=False))
    if not enrolled.rowcount:  # type: ignore[attr-defined]
        raise ConflictError("this account is enrolled in TOTP already", reason="totp_enrolled",
                            resource=f"user:{user.username}", action=AuditAction.USER_TOTP_ENROL)
    db.session.execute(update(WebSession).where(WebSession.id == record.id).values(totp_pending=None)
                       .execution_options(synchronize_session=False))
    audit.record(actor, AuditAction.USER_TOTP_ENROL, "allowed", resource=f"user:{user.username}")
    db.session.commit()
    db.session.refresh(user)


def current_code(actor: Actor, username: str) -> str:
    """The account's current TOTP code — or, while it enrols, that of its newest pending secret; audited.

    For the demo (``nrm-api demo otp``): whoever runs it holds the keyring, and so every secret anyway.
    """
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"no user {username!r}", resource=f"user:{username}", action=AuditAction.USER_TOTP_SHOW)
    sealed, context = user.totp_sealed, _context(user)
    if sealed is None:
        sealed = db.session.scalar(select(WebSession.totp_pending).where(
            WebSession.user_id == user.id, WebSession.ended_at.is_(None), WebSession.totp_pending.is_not(None))
            .order_by(WebSession.created_at.desc()).limit(1))
        context = _pending_context(user)
    if sealed is None:
        raise NotFoundError(f"{username!r} has no TOTP secret yet: sign in on the web form first, it enrols there",
                            resource=f"user:{username}", reason="totp_not_enrolled", action=AuditAction.USER_TOTP_SHOW)
    code = totp_now(keyring().unseal(sealed, context).decode())
    audit.record(actor, AuditAction.USER_TOTP_SHOW, "allowed", resource=f"user:{username}")
    db.session.commit()
    return code


def change_password(actor: Actor, user: User, current: str, new: str) -> User:
    """Replace the password, checked as at sign-in; every session and token of the account ends. Audited."""
    resource = f"user:{user.username}"
    if len(new) < MIN_PASSWORD_LENGTH:
        raise InvalidError(f"a password has at least {MIN_PASSWORD_LENGTH} characters",
                           errors={"new_password": ["too short"]}, reason="password_too_short", resource=resource,
                           action=AuditAction.USER_PASSWORD_CHANGE)
    windows = limits.windows_for(user.username, actor.address or "unknown", None)
    reservation = limits.reserve(windows, time.time())
    if not verify_password(user.password_hash, current):
        raise LoginRefused("the current password is wrong", errors={"current_password": ["wrong password"]},
                           reason="bad_password", resource=resource, action=AuditAction.USER_PASSWORD_CHANGE)
    db.session.execute(update(User).where(User.id == user.id)
                       .values(password_hash=hash_password(new), token_version=User.token_version + 1)
                       .execution_options(synchronize_session=False))
    audit.record(actor, AuditAction.USER_PASSWORD_CHANGE, "allowed", resource=resource)
    db.session.commit()
    limits.release(reservation)
    changed = db.session.scalar(select(User).where(User.id == user.id).execution_options(populate_existing=True))
    assert changed is not None  # noqa: S101 - the row was just updated
    return changed
