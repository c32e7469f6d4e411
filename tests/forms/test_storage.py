"""What storage keeps of a form: signed versions that never change, nothing name-derived after shredding."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from nrm_api.cli import main
from nrm_api.extensions import db
from nrm_api.forms.models import FormBlindIndex, FormKey, FormVersion
from tests.forms.helpers import adult, agency

CHANGES = [
    "UPDATE form_versions SET sealed = public",
    "UPDATE form_versions SET signature = 'forged'",
    "DELETE FROM form_versions",
]


def _shred(app: Flask, form_id: str) -> None:
    result = app.test_cli_runner().invoke(main, ["forms", "shred", form_id, "--reason", "erasure_request", "--yes"])
    assert result.exit_code == 0, result.output


def test_a_shredded_form_is_no_longer_a_possible_duplicate(app: Flask, client: FlaskClient) -> None:
    ngo = agency(client)
    first = ngo.sdk.submit_form(adult())
    second = ngo.sdk.submit_form(adult())
    assert {"form_id": first["id"], "agency": ngo.id} in second["possible_duplicates"]
    _shred(app, first["id"])
    count = select(func.count()).select_from(FormBlindIndex).where(FormBlindIndex.form_id == first["id"])
    assert db.session.scalar(count) == 0
    third = ngo.sdk.submit_form(adult())
    assert third["possible_duplicates"] == [{"form_id": second["id"], "agency": ngo.id}]


@pytest.mark.parametrize("statement", CHANGES)
def test_a_signed_version_cannot_be_changed_even_by_the_owner(client: FlaskClient, statement: str) -> None:
    agency(client).sdk.submit_form(adult())
    with pytest.raises(DatabaseError, match="immutable"), db.session.begin_nested():
        db.session.execute(text(statement))


def test_a_signed_version_cannot_be_truncated(client: FlaskClient, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    agency(client).sdk.submit_form(adult())
    with pytest.raises(DatabaseError, match="immutable"), db.session.begin_nested():
        db.session.execute(text("TRUNCATE form_versions CASCADE"))


@pytest.mark.parametrize("statement", [*CHANGES, "TRUNCATE form_versions CASCADE"])
def test_the_app_role_may_not_change_a_signed_version(app: Flask, client: FlaskClient, backend: str,
                                                      statement: str) -> None:
    if backend != "postgresql":
        pytest.skip("roles and grants exist on PostgreSQL only")
    db.session.execute(text("SET ROLE nrm_app"))  # undone with the test's transaction
    ngo = agency(client)
    written = ngo.sdk.submit_form(adult())  # the web role writes versions
    with pytest.raises(DatabaseError, match="permission denied"), db.session.begin_nested():
        db.session.execute(text(statement))
    _shred(app, written["id"])  # and shreds
    assert db.session.execute(text("SELECT current_user")).scalar() == "nrm_app"


def test_shredding_touches_only_the_wrapped_key(app: Flask, client: FlaskClient) -> None:
    written = agency(client).sdk.submit_form(adult())
    before = db.session.get(FormVersion, (written["id"], 1))
    assert before is not None
    kept = (before.public, before.sealed, before.signature, before.sha256)
    _shred(app, written["id"])  # would fail on the triggers if it changed a version
    db.session.expire_all()
    after = db.session.get(FormVersion, (written["id"], 1))
    assert after is not None and (after.public, after.sealed, after.signature, after.sha256) == kept
    assert db.session.get(FormKey, written["id"]).wrapped_dek is None  # type: ignore[union-attr]
