"""An agency administrator's people: scoped to their agency, every change audited, secrets shown once."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from nrm_api.accounts import staff
from nrm_api.accounts.login import LoginRefused, login
from nrm_api.accounts.models import User
from nrm_api.audit.actor import Actor
from nrm_api.audit.models import AuditEvent
from nrm_api.crypto.passwords import totp_now
from nrm_api.errors import ConflictError, InvalidError, NotFoundError
from nrm_api.extensions import db
from tests.conftest import create_agency, create_user


def _admin(agency: str) -> Actor:
    person = create_user("agency_admin", agency)
    return Actor(f"user:{person['username']}", agency, "agency_admin")


def _events(action: str, resource: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action,
                                                            AuditEvent.resource == resource)))


def test_an_invited_person_signs_in_with_the_password_shown_once(app: Flask, backend: str) -> None:
    agency = create_agency()
    actor = _admin(agency)
    person, password = staff.invite(actor, "new-caseworker", "caseworker")
    assert person.role == "caseworker" and not person.totp_enrolled and len(password) >= 20
    stored = db.session.scalar(select(User).where(User.username == "new-caseworker"))
    assert stored is not None and stored.agency_id == agency and password not in stored.password_hash
    assert login("new-caseworker", password, None, None, Actor("anonymous")).access_token
    created = _events("user:create", "user:new-caseworker")
    assert len(created) == 1 and password.encode() not in created[0].body
    assert [p.username for p in staff.agency_users(actor)] == sorted([actor.subject[5:], "new-caseworker"])


@pytest.mark.parametrize("role", ["auditor", "network_admin", "system", "boss"])
def test_an_agency_admin_gives_only_the_roles_of_agency_people(app: Flask, role: str) -> None:
    actor = _admin(create_agency())
    with pytest.raises(InvalidError):
        staff.invite(actor, "would-be", role)
    assert db.session.scalar(select(User).where(User.username == "would-be")) is None


def test_a_taken_username_is_a_conflict(app: Flask) -> None:
    actor = _admin(create_agency())
    taken = create_user("caseworker", create_agency())
    with pytest.raises(ConflictError):
        staff.invite(actor, taken["username"], "caseworker")


def test_reset_totp_makes_the_person_enrol_again_and_cuts_their_tokens(app: Flask, backend: str) -> None:
    agency = create_agency()
    actor = _admin(agency)
    person = create_user("caseworker", agency, totp=True)
    with pytest.raises(LoginRefused):
        login(person["username"], person["password"], None, None, Actor("anonymous"))
    before = db.session.scalar(select(User.token_version).where(User.username == person["username"]))
    staff.reset_totp(actor, person["username"])
    db.session.expire_all()
    stored = db.session.scalar(select(User).where(User.username == person["username"]))
    assert stored is not None and stored.totp_sealed is None and stored.token_version == (before or 0) + 1
    assert login(person["username"], person["password"], None, None, Actor("anonymous")).access_token
    assert len(_events("user:totp-reset", f"user:{person['username']}")) == 1


def test_a_disabled_person_cannot_sign_in(app: Flask) -> None:
    agency = create_agency()
    actor = _admin(agency)
    person = create_user("caseworker", agency)
    staff.disable(actor, person["username"])
    with pytest.raises(LoginRefused):
        login(person["username"], person["password"], None, None, Actor("anonymous"))
    assert [p.disabled for p in staff.agency_users(actor) if p.username == person["username"]] == [True]


def test_an_admin_cannot_disable_themselves(app: Flask) -> None:
    actor = _admin(create_agency())
    with pytest.raises(ConflictError):
        staff.disable(actor, actor.subject[5:])


def test_another_agencys_people_are_not_found(app: Flask, backend: str) -> None:
    actor = _admin(create_agency())
    other = create_user("caseworker", create_agency(), totp=True)
    for change in (staff.disable, staff.reset_totp):
        with pytest.raises(NotFoundError):
            change(actor, other["username"])
    assert other["username"] not in [p.username for p in staff.agency_users(actor)]
    db.session.expire_all()
    stored = db.session.scalar(select(User).where(User.username == other["username"]))
    assert stored is not None and stored.disabled_at is None and stored.totp_sealed is not None
    assert totp_now(other["secret"])  # still enrolled, still signs in with a code


def test_user_manage_belongs_to_agency_admins_only(client: FlaskClient) -> None:
    from nrm_api.permissions import ROLE_PERMISSIONS, Permission

    assert [role for role, held in ROLE_PERMISSIONS.items() if Permission.USER_MANAGE in held] == ["agency_admin"]
