"""Code lists are defined once, in vocabulary.yaml: the directory, the referrals and the disclosure policy use them."""

from __future__ import annotations

from importlib import resources

import yaml
from flask.testing import FlaskClient

from nrm_api import vocabulary
from nrm_api.agencies import models as agency_models
from nrm_api.agencies import schemas as agency_schemas
from nrm_api.fields import IDENTIFYING, INVESTIGATIVE, PUBLIC, SPECIAL
from nrm_api.forms import models as form_models
from nrm_api.forms import rules as form_rules
from nrm_api.referrals import rules as referral_rules
from tests.conftest import bearer
from tests.referrals.helpers import network

CLASSES = {PUBLIC, IDENTIFYING, SPECIAL, INVESTIGATIVE}


def _disclosure() -> dict:
    return yaml.safe_load(resources.files("nrm_api.forms").joinpath("disclosure.yaml").read_text(encoding="utf-8"))


def test_the_disclosure_policy_names_exactly_the_vocabulary_kinds_purposes_and_services() -> None:
    policy = _disclosure()
    assert list(policy["by_kind"]) == vocabulary.codes("agency_kind")
    for kind, purposes in policy["by_kind"].items():
        assert set(purposes) == set(referral_rules.PURPOSES), kind
        assert set(referral_rules.PURPOSES) <= set(vocabulary.codes("consent_purpose"))
        assert all(set(classes) <= CLASSES for classes in purposes.values()), kind
    assert list(policy["services"]) == vocabulary.codes("service")
    assert all(set(classes) <= CLASSES for classes in policy["services"].values())
    assert set(policy["author"]) == CLASSES


def test_every_code_list_of_the_directory_and_the_referrals_comes_from_the_vocabulary() -> None:
    assert tuple(vocabulary.codes("agency_kind")) == agency_models.KINDS
    assert tuple(vocabulary.codes("oblast")) == agency_models.REGIONS
    assert tuple(vocabulary.codes("gender")) == agency_schemas.SEXES
    assert tuple(vocabulary.codes("age_band")) == agency_schemas.AGE_BANDS
    assert agency_schemas.SERVICES == referral_rules.SERVICES == tuple(vocabulary.codes("service"))
    assert tuple(vocabulary.codes("referral_status")) == referral_rules.STATUSES
    assert tuple(vocabulary.codes("form_status")) == form_models.STATUSES
    assert [band for _, band in form_rules.AGE_BANDS] + ["48+"] == vocabulary.codes("age_band")
    assert form_rules.age_band(17) == "9--17" and form_rules.age_band(48) == "48+"


def test_get_vocabulary_serves_the_services_and_statuses_in_three_languages(client: FlaskClient) -> None:
    answer = client.get("/api/v1/vocabulary", headers=bearer(network(client).ngo.sdk.token()))
    assert answer.status_code == 200
    lists = answer.get_json()
    for name in ("service", "referral_status", "form_status", "agency_kind", "oblast", "gender", "age_band"):
        assert lists[name], name
        assert all(set(labels) == {"en", "ru", "be"} and all(labels.values()) for labels in lists[name].values())
    assert lists["service"]["legal_aid"] == {"en": "Legal aid", "ru": "Юридическая помощь", "be": "Юрыдычная дапамога"}
