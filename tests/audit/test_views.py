"""The auditor's API: filtered pages, streamed exports, checkpoints, proofs, verification."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from nrm_api.audit import log as audit_log
from nrm_api.audit import merkle, notes
from nrm_api.crypto.signatures import public_key_bytes
from tests.audit.helpers import add_events, sequence
from tests.conftest import bearer, create_user, last_event, login_token


@pytest.fixture
def auditor(client: FlaskClient) -> dict[str, str]:
    token = login_token(client, create_user("auditor"))
    return bearer(token)


def test_auditors_filter_and_page_through_the_log(client: FlaskClient, auditor: dict[str, str]) -> None:
    add_events(7, label="paging")
    sequence()
    seen: list[str] = []
    cursor = None
    while True:
        query = "action=test:event&outcome=allowed&actor=user:log-writer&limit=3" + (f"&cursor={cursor}" if cursor
                                                                                      else "")
        page = client.get(f"/api/v1/audit/events?{query}", headers=auditor).get_json()
        seen += [item["resource"] for item in page["items"] if item["resource"].startswith("paging:")]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"paging:{n}" for n in range(7)]
    one = client.get("/api/v1/audit/events?resource=paging:3", headers=auditor).get_json()["items"]
    assert len(one) == 1
    assert one[0]["seq"] is not None
    assert set(one[0]) == {"seq", "occurred_at", "actor", "agency", "action", "resource", "fields", "outcome",
                           "reason", "request_id", "client_request_id", "client_address", "sha256", "count"}


def test_time_filters_and_bad_queries(client: FlaskClient, auditor: dict[str, str]) -> None:
    add_events(2, label="timed")
    future = client.get("/api/v1/audit/events?resource=timed:1&since=2999-01-01T00:00:00Z", headers=auditor)
    assert future.get_json()["items"] == []
    past = client.get("/api/v1/audit/events?resource=timed:1&until=2000-01-01T00:00:00%2B00:00", headers=auditor)
    assert past.get_json()["items"] == []
    for bad in ("cursor=not-a-cursor", "limit=0", "limit=5000", "outcome=maybe", "since=yesterday", "colour=red",
                "since=2026-01-01T00:00:00"):
        response = client.get(f"/api/v1/audit/events?{bad}", headers=auditor)
        assert response.status_code == 422, bad
        assert response.mimetype == "application/problem+json"


def test_export_streams_csv_and_jsonl(client: FlaskClient, auditor: dict[str, str]) -> None:
    add_events(5, label="export")
    with client.get("/api/v1/audit/export?format=jsonl&action=test:event", headers=auditor) as response:
        assert response.headers["Content-Type"].startswith("application/jsonl")
        assert response.is_streamed
        lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [line["resource"] for line in lines if line["resource"].startswith("export:")] == [
        f"export:{n}" for n in range(5)]
    with client.get("/api/v1/audit/export?format=csv&resource=export:2", headers=auditor) as response:
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["resource"] for row in rows] == ["export:2"]
    assert last_event().action == "audit:export"
    assert client.get("/api/v1/audit/export?format=xml", headers=auditor).status_code == 422


def test_csv_cells_cannot_become_formulas(app: Flask) -> None:
    from nrm_api.audit.queries import _cell

    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("user:alice") == "user:alice"


def test_checkpoints_verify_with_the_published_key(client: FlaskClient, auditor: dict[str, str]) -> None:
    add_events(3)
    sequence(checkpoint=True)
    body = client.get("/api/v1/audit/checkpoints", headers=auditor).get_json()
    jwks = client.get("/.well-known/jwks.json").get_json()["keys"]
    trusted = [public_key_bytes(key["x"]) for key in jwks]
    newest = body["items"][0]
    opened = notes.open_checkpoint(newest["note"], body["origin"], trusted)
    assert opened.size == newest["tree_size"]
    assert base64.b64decode(newest["root_hash"]) == opened.root
    name, key_id, key = body["verifier_keys"][0].split("+", 2)
    assert name == body["origin"]
    assert bytes.fromhex(key_id) == notes.key_id(name, base64.b64decode(key)[1:])


def test_an_inclusion_proof_verifies_offline(client: FlaskClient, auditor: dict[str, str]) -> None:
    add_events(11, label="proof")
    sequence(checkpoint=True)
    seq = client.get("/api/v1/audit/events?resource=proof:4", headers=auditor).get_json()["items"][0]["seq"]
    proof = client.get(f"/api/v1/audit/events/{seq}/proof", headers=auditor).get_json()
    trusted = [public_key_bytes(key["x"]) for key in client.get("/.well-known/jwks.json").get_json()["keys"]]
    checkpoint = notes.open_checkpoint(proof["checkpoint"], audit_log.signer().origin, trusted)
    event = base64.b64decode(proof["event"])
    assert json.loads(event)["resource"] == "proof:4"
    merkle.verify_inclusion(seq, checkpoint.size, merkle.leaf_hash(event),
                            [base64.b64decode(h) for h in proof["proof"]], checkpoint.root)
    missing = client.get("/api/v1/audit/events/99999999/proof", headers=auditor)
    assert missing.status_code == 404


def test_a_consistency_proof_links_two_checkpoints(client: FlaskClient, auditor: dict[str, str]) -> None:
    add_events(3)
    sequence(checkpoint=True)
    first = client.get("/api/v1/audit/checkpoints", headers=auditor).get_json()["items"][0]
    add_events(4)
    sequence(checkpoint=True)
    second = client.get("/api/v1/audit/checkpoints", headers=auditor).get_json()["items"][0]
    old, new = first["tree_size"], second["tree_size"]
    body = client.get(f"/api/v1/audit/consistency?from={old}&to={new}", headers=auditor).get_json()
    merkle.verify_consistency(old, new, base64.b64decode(first["root_hash"]), base64.b64decode(second["root_hash"]),
                              [base64.b64decode(h) for h in body["proof"]])
    assert client.get(f"/api/v1/audit/consistency?from={new}&to={old}", headers=auditor).status_code == 404


def test_verify_reports_a_valid_log(client: FlaskClient, auditor: dict[str, str]) -> None:
    add_events(3)
    sequence(checkpoint=True)
    body = client.get("/api/v1/audit/verify", headers=auditor).get_json()
    assert body["valid"] is True
    assert body["first_invalid_seq"] is None
    assert body["head"]["seq"] == body["events_checked"] - 1
    assert last_event().action == "audit:verify"


@pytest.mark.parametrize("role", ["caseworker", "agency_admin", "network_admin"])
def test_only_auditors_read_the_log(client: FlaskClient, role: str) -> None:
    token = login_token(client, create_user(role))
    for path in ("/api/v1/audit/events", "/api/v1/audit/export?format=csv", "/api/v1/audit/checkpoints",
                 "/api/v1/audit/verify", "/api/v1/audit/events/0/proof", "/api/v1/audit/consistency?from=1&to=2"):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 403, path
        assert (last_event().outcome, last_event().reason) == ("denied", "role_forbidden")
