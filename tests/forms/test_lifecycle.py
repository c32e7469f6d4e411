"""After submission: new versions, the authority's decision, consent withdrawn, keys rotated, shredding."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from nrm_api.accounts.signing import key_of
from nrm_api.audit import log as audit_log
from nrm_api.audit import sequencer
from nrm_api.cli import main
from nrm_api.client import NrmError
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jws import verify_stored
from nrm_api.crypto.keyring import Keyring
from nrm_api.extensions import db
from nrm_api.forms import sealing
from nrm_api.forms.models import Form, FormKey, FormVersion
from nrm_api.forms.rules import merge
from tests.conftest import OPERATOR, last_event
from tests.forms.helpers import adult, agency

DECISION = {"trafficking_status": "ActualVictimOfTrafficking", "deciding_organisation_type": "Police",
            "note": "Confirmed by the interview of 21 November."}


def test_a_new_version_needs_the_current_etag(client: FlaskClient) -> None:
    ngo = agency(client)
    written = ngo.sdk.submit_form(adult())
    changed = adult()
    changed["account"]["needs"] = "Legal aid."
    path = f"/api/v1/forms/{written['id']}"
    with pytest.raises(NrmError) as missing:
        ngo.sdk.signed_write("PUT", path, changed)
    assert missing.value.status == 428
    with pytest.raises(NrmError) as stale:
        ngo.sdk.signed_write("PUT", path, changed, {"If-Match": '"7"'})
    assert stale.value.status == 412
    headers, body = ngo.sdk.signed_write("PUT", path, changed, {"If-Match": written["etag"]})
    assert body["version"] == 2 and headers["ETag"] == '"2"'
    assert ngo.sdk.read_form(written["id"])["document"]["account"]["needs"] == "Legal aid."
    with pytest.raises(NrmError) as replayed:
        ngo.sdk.signed_write("PUT", path, changed, {"If-Match": written["etag"]})
    assert replayed.value.status == 412


def test_only_an_authority_records_the_decision(client: FlaskClient) -> None:
    ngo = agency(client)
    written = ngo.sdk.submit_form(adult())
    with pytest.raises(NrmError) as refused:
        ngo.sdk.signed_write("POST", f"/api/v1/forms/{written['id']}/decision", DECISION,
                             {"If-Match": written["etag"]})
    assert refused.value.status == 403
    assert (last_event().outcome, last_event().reason) == ("denied", "not_an_authority")

    ministry = agency(client, kind="authority")
    own = ministry.sdk.submit_form(adult())
    _, body = ministry.sdk.signed_write("POST", f"/api/v1/forms/{own['id']}/decision", DECISION,
                                        {"If-Match": own["etag"]})
    form = ministry.sdk.read_form(own["id"])
    assert form["decision"]["trafficking_status"] == "ActualVictimOfTrafficking"
    assert form["decision"]["note"] == DECISION["note"]
    assert form["etag"] == '"2"' and body["version"] == 1
    with pytest.raises(NrmError) as unknown:
        ministry.sdk.signed_write("POST", f"/api/v1/forms/{own['id']}/decision",
                                  {**DECISION, "trafficking_status": "Maybe"}, {"If-Match": form["etag"]})
    assert unknown.value.status == 422


def test_consent_withdrawal_is_signed_and_recorded(client: FlaskClient) -> None:
    ngo = agency(client)
    written = ngo.sdk.submit_form(adult())
    withdrawal = {"withdrawn_at": "2026-11-22T09:00:00+03:00", "recorded_by": "caseworker"}
    _, body = ngo.sdk.signed_write("POST", f"/api/v1/forms/{written['id']}/consent-withdrawal", withdrawal)
    assert body["status"] == "consent_withdrawn"
    with pytest.raises(NrmError) as twice:
        ngo.sdk.signed_write("POST", f"/api/v1/forms/{written['id']}/consent-withdrawal", withdrawal)
    assert twice.value.status == 409


def _reverify(form_id: str) -> None:
    """Open every sealed field, rebuild the document, verify the author's stored signature."""
    form = db.session.get(Form, form_id)
    assert form is not None
    row = db.session.get(FormVersion, (form_id, form.version))
    assert row is not None
    dek = sealing.open_key(db.session.get(FormKey, form_id))
    document = merge(row.public, sealing.open_paths(form, row, dek, row.sealed))
    verify_stored(row.signature, canonical(document), lambda kid: key_of(kid))


def test_rotate_rewrap_retire_and_stored_signatures_still_verify(app: Flask, client: FlaskClient,
                                                                 tmp_path: Path) -> None:
    from nrm_api.accounts import admin

    ngo = agency(client)
    ids = [ngo.sdk.submit_form(adult())["id"] for _ in range(3)]
    ring: Keyring = app.extensions["nrm_keyring"]
    original = ring.path.read_bytes()
    try:
        runner = app.test_cli_runner()
        assert runner.invoke(main, ["keys", "rotate"]).exit_code == 0
        result = runner.invoke(main, ["keys", "rewrap", "--retire"])
        assert result.exit_code == 0, result.output
        assert len(ring.kek_versions) == 1
        assert {key.kek_version for key in db.session.scalars(select(FormKey))} == {ring.current_kek_version}
        admin.revoke_client_key(OPERATOR, ngo.client_id, ngo.private_jwk["kid"])  # years later: key long revoked
        for form_id in ids:
            _reverify(form_id)
        assert runner.invoke(main, ["keys", "rewrap"]).output.startswith("0 data key(s)")
    finally:
        ring.path.write_bytes(original)
        app.extensions["nrm_keyring"] = Keyring.load(ring.path)


def test_shredding_makes_the_fields_unrecoverable_and_the_log_still_verifies(app: Flask,
                                                                            client: FlaskClient) -> None:
    ngo = agency(client)
    written = ngo.sdk.submit_form(adult())
    result = app.test_cli_runner().invoke(main, ["forms", "shred", written["id"], "--reason", "erasure_request",
                                                 "--yes"])
    assert result.exit_code == 0, result.output
    assert db.session.get(FormKey, written["id"]).wrapped_dek is None  # type: ignore[union-attr]
    form = ngo.sdk.read_form(written["id"])
    assert form["status"] == "shredded"
    assert "person" not in form["document"] or not form["document"]["person"]
    assert "account.narrative" in form["withheld"] and "signature" not in form
    assert form["document"]["statistics"]["age_band"] == "27--29"
    with pytest.raises(sealing.ShreddedError):
        sealing.open_key(db.session.get(FormKey, written["id"]))
    assert sequencer.run(db.session, audit_log.signer(), force_checkpoint=True) > 0
    assert audit_log.verify_live(db.session).valid
    bad = app.test_cli_runner().invoke(main, ["forms", "shred", written["id"], "--reason", "because", "--yes"])
    assert bad.exit_code != 0


def test_read_access_is_cut_by_the_disclosure_policy(app: Flask) -> None:
    from nrm_api.forms.disclosure import visible_classes, withheld_paths

    assert "perpetrators" in withheld_paths(visible_classes(is_author=False, kind="ngo", purpose="assistance"))
    assert "person.first_name" in withheld_paths(visible_classes(is_author=False, kind="ngo",
                                                                 purpose="identification"))
    assert withheld_paths(visible_classes(is_author=False, kind="authority", purpose="identification")) == []
    assert withheld_paths(visible_classes(is_author=True)) == []


def test_a_ciphertext_moved_to_another_form_does_not_open(client: FlaskClient, backend: str) -> None:
    ngo = agency(client)
    first, second = (ngo.sdk.submit_form(adult()) for _ in range(2))
    donor = db.session.get(FormVersion, (first["id"], 1))
    target = db.session.get(FormVersion, (second["id"], 1))
    assert donor is not None and target is not None
    _drop_immutability(backend)  # as only someone holding the schema could (undone with the test)
    target.sealed = {**target.sealed, "person.first_name": donor.sealed["person.first_name"]}
    db.session.commit()
    with pytest.raises(NrmError) as refused:
        ngo.sdk.read_form(second["id"])
    assert refused.value.status == 500
    assert refused.value.problem["type"] == "urn:nrm:problem:integrity-failure"
    assert (last_event().outcome, last_event().reason) == ("failed", "integrity")


def _drop_immutability(backend: str) -> None:
    if backend == "postgresql":
        db.session.execute(text("ALTER TABLE form_versions DISABLE TRIGGER form_versions_immutable"))
    else:
        db.session.execute(text("DROP TRIGGER form_versions_no_update"))


def test_consent_decides_who_may_receive_an_adults_data_but_never_gates_a_child() -> None:
    from datetime import date

    from nrm_api.forms.rules import consent_allows
    from tests.forms.helpers import child

    today = date(2026, 11, 23)
    document = adult()
    document["consent"]["recipients"] = ["kind:authority", "shelter-minsk"]
    assert consent_allows(document, "identification", "moi", "authority", today)
    assert consent_allows(document, "assistance", "shelter-minsk", "ngo", today)
    assert not consent_allows(document, "assistance", "legal-brest", "ngo", today)
    document["consent"]["purposes"]["assistance"] = False
    assert not consent_allows(document, "assistance", "shelter-minsk", "ngo", today)
    assert consent_allows(child(), "assistance", "legal-brest", "ngo", today)
