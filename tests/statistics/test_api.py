"""GET /api/v1/statistics: who sees what, k, withheld cells, and nothing of a person in the answer."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from nrm_api import create_app
from nrm_api.config import ConfigError
from nrm_api.permissions import Permission
from tests.conftest import audit_events, bearer, client_token, create_user, dispose, login_token, rolled_back, settings
from tests.forms.helpers import CANARIES, Agency, adult, agency, canary_document, child

STATISTICS = "/api/v1/statistics"
PLACE_CANARY = "Zxqcanaryplace"


def _statistics(http: FlaskClient, who: Agency) -> dict[str, Any]:
    response = http.get(STATISTICS, headers=bearer(client_token(http, who.client_id, who.private_jwk)))
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def _assert_safe(answer: dict[str, Any]) -> None:
    """Every count shown is at least k, and no one-way table withholds a single cell alone."""
    k = answer["k"]
    for table in answer["tables"]:
        counts = [row.get("count") for row in table["rows"]]
        assert all(count is None or count >= k for count in counts), table
        assert all(row["suppressed"] == (row.get("count", row.get("median_hours")) is None) for row in table["rows"])
        if len(table["dimensions"]) == 1 and table["name"] not in ("totals", "time_to_acceptance_by_priority"):
            assert sum(count is None for count in counts) != 1, table


def test_the_network_sees_every_agency_with_small_cells_withheld(client: FlaskClient) -> None:
    ngo, other, ministry = agency(client, "ngo"), agency(client, "ngo"), agency(client, "authority")
    for _ in range(12):
        ngo.sdk.submit_form(adult())
    for _ in range(3):
        document = adult()
        document["statistics"]["sex"] = "Masculine"
        document["exploitation"]["locations"].append({"type": "Exploitation", "country": "ZW"})
        document["screening"]["place"] = PLACE_CANARY
        other.sdk.submit_form(document)
    other.sdk.submit_form(canary_document())  # a child: counted without consent
    answer = _statistics(client, ministry)
    assert answer["scope"] == "network" and answer["k"] == 11
    totals = {row["population"]: row["count"] for row in _rows(answer, "totals")}
    assert totals["forms"] == 16
    sexes = {row["sex"]: row["count"] for row in _rows(answer, "forms_by_sex")}
    assert sexes["Feminine"] == 13 and sexes["Masculine"] is None
    assert sum(count is None for count in sexes.values()) >= 2
    countries = {row["country"]: row["count"] for row in _rows(answer, "forms_by_country_of_exploitation")}
    # ZW, in fewer than k forms, is never named; RU goes with "other" lest 16 - RU give "other" away
    assert countries == {"RU": None, "other": None}
    _assert_safe(answer)
    text = json.dumps(answer, ensure_ascii=False)
    for canary in [*CANARIES.values(), PLACE_CANARY, "ZW"]:
        assert canary not in text


def test_an_agency_sees_only_its_own_forms(client: FlaskClient) -> None:
    ngo, other = agency(client, "ngo"), agency(client, "ngo")
    for _ in range(11):
        ngo.sdk.submit_form(adult())
    other.sdk.submit_form(adult())
    own = _statistics(client, ngo)
    assert own["scope"] == "agency" and own["agency"] == ngo.id
    assert {row["population"]: row["count"] for row in _rows(own, "totals")}["forms"] == 11
    theirs = _statistics(client, other)
    assert {row["population"]: row["count"] for row in _rows(theirs, "totals")}["forms"] is None
    assert all(row["count"] is None for row in _rows(theirs, "forms_by_sex"))


def test_a_form_without_consent_to_statistics_is_not_counted_a_child_is(client: FlaskClient) -> None:
    ngo = agency(client, "ngo")
    refused = adult()
    refused["consent"]["purposes"]["statistics"] = False
    for _ in range(11):
        ngo.sdk.submit_form(refused)
    assert {row["population"]: row["count"] for row in _rows(_statistics(client, ngo), "totals")}["forms"] is None
    for _ in range(11):
        ngo.sdk.submit_form(child())
    answer = _statistics(client, ngo)
    assert {row["population"]: row["count"] for row in _rows(answer, "totals")}["forms"] == 11
    # every one of them 9-17, and the total known: the band is withheld, lest the zeros beside it tell
    assert all(row["count"] is None for row in _rows(answer, "forms_by_age_band"))


def test_a_form_whose_consent_was_withdrawn_is_no_longer_counted(client: FlaskClient) -> None:
    """Review: the withdrawal is recorded on the form, not in its consent section, which still says yes."""
    ngo = agency(client, "ngo")
    ids = [ngo.sdk.submit_form(adult())["id"] for _ in range(11)]
    assert {row["population"]: row["count"] for row in _rows(_statistics(client, ngo), "totals")}["forms"] == 11
    ngo.sdk.signed_write("POST", f"/api/v1/forms/{ids[0]}/consent-withdrawal",
                         {"withdrawn_at": "2026-11-22T09:00:00+03:00", "recorded_by": "caseworker"})
    assert {row["population"]: row["count"] for row in _rows(_statistics(client, ngo), "totals")}["forms"] is None


def test_assistance_given_and_the_median_time_to_acceptance(client: FlaskClient) -> None:
    ngo, iom = agency(client, "ngo"), agency(client, "international")
    for _ in range(11):
        form = ngo.sdk.submit_form(adult())
        referral = ngo.sdk.refer(form["id"], iom.id, "assistance", services=["accommodation", "legal_aid"],
                                 priority="urgent")
        iom.sdk.set_status(referral["id"], "accepted")
    answer = _statistics(client, iom)
    services = {row["service"]: row["count"] for row in _rows(answer, "assistance_given_by_service")}
    # the rest are zeros, withheld: one of the two elevens goes with them, lest the zeros be known
    assert sorted(services[s] or 0 for s in ("accommodation", "legal_aid")) == [0, 11]
    assert services["healthcare"] is None
    times = {row["priority"]: row for row in _rows(answer, "time_to_acceptance_by_priority")}
    assert times["urgent"]["median_hours"] is not None and times["urgent"]["median_hours"] >= 0
    assert times["normal"]["median_hours"] is None and times["normal"]["suppressed"]
    outcomes = {(row["purpose"], row["status"]): row["count"]
                for row in _rows(answer, "referrals_by_purpose_and_status")}
    assert outcomes[(None, None)] == 11
    assert {row["population"]: row["count"] for row in _rows(answer, "totals")}["referrals"] == 11
    _assert_safe(answer)


def test_auditors_see_the_network_and_the_read_is_audited_without_personal_data(client: FlaskClient) -> None:
    ngo = agency(client, "ngo")
    ngo.sdk.submit_form(canary_document())
    auditor = create_user("auditor")
    response = client.get(STATISTICS, headers=bearer(login_token(client, auditor)))
    assert response.status_code == 200 and response.get_json()["scope"] == "network"
    event = audit_events(action=Permission.STATISTICS_READ.value)[-1]
    assert event.outcome == "allowed" and event.resource == "statistics:network"
    stored = json.dumps([event.resource, event.fields, event.reason], ensure_ascii=False)
    for canary in CANARIES.values():
        assert canary not in stored


def test_roles_without_statistics_are_refused(client: FlaskClient) -> None:
    admin = create_user("network_admin")
    assert client.get(STATISTICS, headers=bearer(login_token(client, admin))).status_code == 403
    assert client.get(STATISTICS).status_code == 401


@pytest.mark.parametrize("value", ["4", "0", "-11", "eleven", ""])
def test_a_k_below_5_or_not_a_number_is_refused_at_startup(value: str, database_url: str, keyring_path: Path) -> None:
    with pytest.raises(ConfigError, match="NRM_STATISTICS_K"):
        create_app(settings(database_url, keyring_path, STATISTICS_K=value))


def test_a_configured_k_is_the_one_applied(database_url: str, keyring_path: Path) -> None:
    app: Flask = create_app(settings(database_url, keyring_path, STATISTICS_K="5"))
    try:
        with rolled_back(app) as bound:
            http = bound.test_client()
            ngo = agency(http, "ngo")
            for _ in range(5):
                ngo.sdk.submit_form(adult())
            answer = _statistics(http, ngo)
            assert answer["k"] == 5
            assert {row["population"]: row["count"] for row in _rows(answer, "totals")}["forms"] == 5
    finally:
        dispose(app)


def _rows(answer: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return copy.deepcopy(next(t["rows"] for t in answer["tables"] if t["name"] == name))
