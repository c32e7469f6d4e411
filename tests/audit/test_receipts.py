"""A receipt is provable in the log: its event's hash → position → inclusion proof → signed checkpoint."""

from __future__ import annotations

import base64
import json

import pytest
from flask.testing import FlaskClient

from nrm_api.audit import merkle, notes
from nrm_api.client import ReceiptProofError, verify_in_log
from nrm_api.crypto.canonical import sha256_hex
from nrm_api.crypto.jose import verify_jwt
from nrm_api.crypto.signatures import public_key_bytes
from tests.audit.helpers import sequence
from tests.conftest import audit_events, bearer, create_user, login_token
from tests.forms.helpers import adult, agency


@pytest.fixture
def auditor(client: FlaskClient) -> dict[str, str]:
    return bearer(login_token(client, create_user("auditor")))


def test_a_receipt_verifies_end_to_end_with_nothing_but_the_jwks(client: FlaskClient,
                                                                 auditor: dict[str, str]) -> None:
    ngo = agency(client)
    sequence(checkpoint=True)  # a log with a checkpoint already, so the next is not due at once
    receipt = ngo.sdk.submit_form(adult())["receipt"]
    jwks = client.get("/.well-known/jwks.json").get_json()["keys"]
    _, claims = verify_jwt(receipt, jwks)  # the service's, by its published key
    assert "audit_seq" not in claims
    assert claims["event"] == sha256_hex(audit_events(action="form:create")[-1].body)

    pending = client.get(f"/api/v1/audit/events/by-hash/{claims['event']}", headers=auditor)
    assert pending.status_code == 200
    assert pending.get_json() == {"event": claims["event"], "status": "pending", "seq": None, "proof": None}
    sequence()
    sequenced = client.get(f"/api/v1/audit/events/by-hash/{claims['event']}", headers=auditor).get_json()
    assert sequenced["status"] == "sequenced" and sequenced["proof"] is None
    sequence(checkpoint=True)
    found = client.get(f"/api/v1/audit/events/by-hash/{claims['event']}", headers=auditor).get_json()
    assert found["status"] == "checkpointed" and found["seq"] == sequenced["seq"]
    proof = client.get(found["proof"], headers=auditor).get_json()
    assert proof["leaf_index"] == found["seq"]

    # by hand, each step with the JWKS alone
    event = base64.b64decode(proof["event"])
    assert sha256_hex(event) == claims["event"]
    assert json.loads(event)["action"] == "form:create"
    origin = proof["checkpoint"].split("\n", 1)[0]
    checkpoint = notes.open_checkpoint(proof["checkpoint"], origin, [public_key_bytes(k["x"]) for k in jwks])
    assert checkpoint.size == proof["tree_size"]
    merkle.verify_inclusion(proof["leaf_index"], checkpoint.size, merkle.leaf_hash(event),
                            [base64.b64decode(h) for h in proof["proof"]], checkpoint.root)
    # and with the SDK's one call
    assert verify_in_log(receipt, proof, jwks) == found["seq"]


def test_a_proof_of_another_event_or_a_forged_receipt_does_not_verify(client: FlaskClient,
                                                                       auditor: dict[str, str]) -> None:
    ngo = agency(client)
    first = ngo.sdk.submit_form(adult())["receipt"]
    second = ngo.sdk.submit_form(adult())["receipt"]
    sequence(checkpoint=True)
    jwks = client.get("/.well-known/jwks.json").get_json()["keys"]
    event = verify_jwt(first, jwks)[1]["event"]
    found = client.get(f"/api/v1/audit/events/by-hash/{event}", headers=auditor).get_json()
    proof = client.get(found["proof"], headers=auditor).get_json()
    with pytest.raises(ReceiptProofError, match="another event"):
        verify_in_log(second, proof, jwks)
    header, payload, signature = first.split(".")
    with pytest.raises(ReceiptProofError, match="not the service's"):
        verify_in_log(f"{header}.{payload}.{signature[:-4]}AAAA", proof, jwks)
    moved = {**proof, "leaf_index": proof["leaf_index"] + 1}
    with pytest.raises(ReceiptProofError, match="not proven"):
        verify_in_log(first, moved, jwks)


def test_the_event_lookup_answers_unknown_and_malformed_hashes(client: FlaskClient, auditor: dict[str, str]) -> None:
    assert client.get(f"/api/v1/audit/events/by-hash/{'0' * 64}", headers=auditor).status_code == 404
    for bad in ("A" * 64, "0" * 63, "xyz"):
        response = client.get(f"/api/v1/audit/events/by-hash/{bad}", headers=auditor)
        assert response.status_code == 422, bad
    assert client.get(f"/api/v1/audit/events/by-hash/{'0' * 65}", headers=auditor).status_code == 400  # too long an id
    assert "invalid_hash" in {e.reason for e in audit_events(action="audit:read")}


def test_the_history_gives_log_positions_not_row_ids(client: FlaskClient) -> None:
    ngo, moi = agency(client), agency(client, "authority")
    form = ngo.sdk.submit_form(adult())["id"]
    referral = ngo.sdk.refer(form, moi.id, "identification")["id"]
    path = f"/api/v1/referrals/{referral}/history"
    assert [e["audit_seq"] for e in client.get(path, headers=bearer(ngo.sdk.token())).get_json()["events"]] == [None]
    size = sequence()
    assert size > 0
    events = client.get(path, headers=bearer(ngo.sdk.token())).get_json()["events"]
    from nrm_api.audit.models import AuditEvent, AuditLeaf
    from nrm_api.extensions import db

    seq = events[0]["audit_seq"]
    leaf = db.session.get(AuditLeaf, seq)
    assert leaf is not None
    assert db.session.get(AuditEvent, leaf.event_id).resource == f"referral:{referral}"
