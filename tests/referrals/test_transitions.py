"""The state machine: the contract's table, as data, enforced through HTTP."""

from __future__ import annotations

import re

import pytest
import yaml
from flask.testing import FlaskClient

from nrm_api.client import NrmError
from nrm_api.referrals import rules
from tests.conftest import ROOT_DIR, audit_events
from tests.forms.helpers import adult
from tests.referrals.helpers import Network, network

#: A legal way to each status from ``requested``: (status, side) steps.
PATHS: dict[str, list[tuple[str, str]]] = {
    "requested": [],
    "received": [("received", "recipient")],
    "accepted": [("accepted", "recipient")],
    "rejected": [("rejected", "recipient")],
    "in-progress": [("accepted", "recipient"), ("in-progress", "recipient")],
    "on-hold": [("accepted", "recipient"), ("in-progress", "recipient"), ("on-hold", "recipient")],
    "completed": [("accepted", "recipient"), ("in-progress", "recipient"), ("completed", "recipient")],
    "failed": [("accepted", "recipient"), ("in-progress", "recipient"), ("failed", "recipient")],
    "cancelled": [("cancelled", "sender")],
}


#: The integrators' contract, carried in the repository: its table is what agency systems are written against.
CONTRACT = ROOT_DIR / "docs" / "contract.md"


def _contract_rows() -> list[tuple[tuple[str, ...], str, str, bool]]:
    text = CONTRACT.read_text(encoding="utf-8")
    table = text.split("| from | to | by | reason |", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.strip().splitlines()[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        sources = tuple(re.findall(r"`([a-z-]+)`", cells[0]))
        rows.append((sources, cells[1].strip("`"), cells[2], cells[3].startswith("required")))
    return rows


def test_the_rules_are_the_contracts_table() -> None:
    ours = [(row.sources, row.target, row.by, row.reason_required) for row in rules.TRANSITIONS]
    assert ours == _contract_rows()
    assert {"rejected", "completed", "failed", "cancelled"} == rules.FINAL
    assert "`rejected`, `completed`, `failed` and `cancelled` are final" in CONTRACT.read_text(encoding="utf-8")


def test_the_status_table_is_in_the_openapi_document() -> None:
    spec = yaml.safe_load((ROOT_DIR / "openapi.yaml").read_text(encoding="utf-8"))
    operation = spec["paths"]["/api/v1/referrals/{referral_id}/status"]["post"]
    assert operation["x-referral-status-machine"] == rules.status_table()
    assert "| `in-progress` | `on-hold` | recipient | required |" in spec["tags"][
        [tag["name"] for tag in spec["tags"]].index("referrals")]["description"]


def _walk(net: Network, status: str) -> str:
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    referral_id = net.ngo.sdk.refer(form_id, net.moi.id, "identification")["id"]
    for step, side in PATHS[status]:
        (net.moi if side == "recipient" else net.ngo).sdk.set_status(referral_id, step, reason="for the test")
    assert net.ngo.sdk.referral(referral_id)["status"] == status
    return referral_id


def test_every_illegal_transition_is_409_and_changes_nothing(client: FlaskClient) -> None:
    net = network(client)
    refused = 0
    for current in rules.STATUSES:
        referral_id = _walk(net, current)
        for target in rules.STATUSES[1:]:
            if any(current in row.sources and row.target == target for row in rules.TRANSITIONS):
                continue
            side = net.ngo if target == "cancelled" else net.moi
            before = side.sdk.referral(referral_id)
            with pytest.raises(NrmError) as caught:
                side.sdk.set_status(referral_id, target, reason="not allowed", etag=before["etag"])
            assert caught.value.status == 409, (current, target, caught.value.problem)
            after = side.sdk.referral(referral_id)
            assert (after["status"], after["etag"]) == (current, before["etag"])
            refused += 1
    assert refused == 9 * 8 - len([1 for row in rules.TRANSITIONS for _ in row.sources])
    assert len([e for e in audit_events(action="referral:update") if e.reason == "illegal_transition"]) == refused


def test_the_wrong_side_a_missing_reason_and_stale_or_missing_etags_are_refused(client: FlaskClient) -> None:
    net = network(client)
    referral_id = _walk(net, "requested")
    etag = net.ngo.sdk.referral(referral_id)["etag"]
    cases = [(net.ngo, {"status": "accepted"}, etag, 403, "forbidden"),
             (net.moi, {"status": "cancelled", "reason": "x"}, etag, 403, "forbidden"),
             (net.moi, {"status": "rejected"}, etag, 422, "validation-failed"),
             (net.moi, {"status": "received", "outcome": "done"}, etag, 422, "validation-failed"),
             (net.moi, {"status": "received"}, '"99"', 412, "precondition-failed"),
             (net.moi, {"status": "accepted", "priority": "x"}, etag, 422, "validation-failed")]
    for who, body, if_match, status, slug in cases:
        with pytest.raises(NrmError) as caught:
            who.sdk.signed_write("POST", f"/api/v1/referrals/{referral_id}/status", body, {"If-Match": if_match})
        assert (caught.value.status, caught.value.problem["type"]) == (status, f"urn:nrm:problem:{slug}"), body
    with pytest.raises(NrmError) as missing:
        net.moi.sdk.signed_write("POST", f"/api/v1/referrals/{referral_id}/status", {"status": "received"})
    assert missing.value.status == 428
    assert net.ngo.sdk.referral(referral_id)["etag"] == etag
    assert [event["status"] for event in net.ngo.sdk.history(referral_id)["events"]] == ["requested"]
