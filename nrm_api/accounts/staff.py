"""An agency administrator's people: list, add, reset TOTP, disable — within their own agency only.

A user of another agency is not found, as a record the caller may not see is anywhere else. The
initial password is made here, returned once to be shown once, and never stored but as its hash.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..errors import ConflictError, InvalidError, NotFoundError
from ..extensions import db
from ..permissions import Permission
from . import admin
from .models import User

#: The roles an agency administrator may give: people of the agency, never auditors or network admins.
AGENCY_ROLES = ("caseworker", "supervisor", "agency_admin")
ACTION = Permission.USER_MANAGE


@dataclass(frozen=True)
class Person:
    """A user as their agency's administrator sees them: no secret, only whether one is set."""

    username: str
    role: str
    created_at: datetime
    totp_enrolled: bool
    disabled: bool


def agency_users(actor: Actor) -> list[Person]:
    """The people of the caller's agency, by username."""
    rows = db.session.scalars(select(User).where(User.agency_id == actor.agency).order_by(User.username))
    people = [Person(row.username, row.role, row.created_at, row.totp_sealed is not None, row.disabled_at is not None)
              for row in rows]
    audit.record(actor, ACTION, "allowed", resource=f"agency:{actor.agency}", reason="users")
    db.session.commit()
    return people


def invite(actor: Actor, username: str, role: str) -> tuple[Person, str]:
    """Add a person to the caller's agency with a fresh password, returned once; TOTP is enrolled at first sign-in."""
    if role not in AGENCY_ROLES:
        raise InvalidError(f"an agency administrator gives one of the roles {', '.join(AGENCY_ROLES)}",
                           errors={"form": {"role": ["unknown role"]}}, reason="invalid_role",
                           resource=f"user:{username[:64]}", action=AuditAction.USER_CREATE)
    password = new_password()
    user, _ = admin.add_user(actor, username, agency_id=str(actor.agency), role=role, password=password)
    return Person(user.username, user.role, user.created_at, False, False), password


def new_password() -> str:
    """A random initial password: 20 characters of URL-safe base64 (120 bits)."""
    return secrets.token_urlsafe(15)


def reset_totp(actor: Actor, username: str) -> None:
    """Forget a person's TOTP secret (a lost phone): they enrol again at their next sign-in.

    Their tokens and device tokens stop working at once, as whoever holds the phone may hold them.
    """
    user = _of_agency(actor, username, AuditAction.USER_TOTP_RESET)
    user.totp_sealed, user.totp_last_step = None, None
    db.session.execute(update(User).where(User.id == user.id).values(token_version=User.token_version + 1)
                       .execution_options(synchronize_session=False))
    audit.record(actor, AuditAction.USER_TOTP_RESET, "allowed", resource=f"user:{username}")
    db.session.commit()


def disable(actor: Actor, username: str) -> None:
    """Stop a person of the caller's agency signing in (not the administrator themselves: someone must remain)."""
    _of_agency(actor, username, AuditAction.USER_DISABLE)
    if actor.subject == f"user:{username}":
        raise ConflictError("you cannot disable your own account", reason="own_account",
                            resource=f"user:{username}", action=AuditAction.USER_DISABLE)
    admin.disable_user(actor, username)


def _of_agency(actor: Actor, username: str, action: AuditAction) -> User:
    user = db.session.scalar(select(User).where(User.username == username, User.agency_id == actor.agency))
    if user is None or actor.agency is None:
        raise NotFoundError("no such user in your agency", resource=f"user:{username[:64]}", action=action)
    return user
