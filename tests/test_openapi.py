"""The generated OpenAPI document and JSON Schemas match the code and are valid."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from nrm_api import create_app, openapi

ROOT = Path(__file__).resolve().parents[1]


def test_generated_files_match_the_code() -> None:
    stale = openapi.drift(ROOT, create_app)
    assert not stale, f"{stale} drift from the code: run `nrm-api openapi write` (or `make openapi`) and commit"


def test_the_document_is_openapi_3_1_with_problem_responses() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert spec["openapi"] == "3.1.0"
    assert "Problem" in spec["components"]["schemas"]
    assert spec["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"] == {
        "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/TokenRequest"}}}


def test_every_schema_file_is_a_valid_2020_12_schema() -> None:
    files = sorted((ROOT / "schemas").glob("*.json"))
    assert files
    for path in files:
        schema = json.loads(path.read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


def _registry() -> object:
    from referencing import Registry, Resource

    resources = [(path.name, Resource.from_contents(json.loads(path.read_text())))
                 for path in (ROOT / "schemas").glob("*.json")]
    return Registry().with_resources(resources)


def test_every_example_validates_against_the_form_schema() -> None:
    from datetime import UTC, datetime

    from nrm_api.forms.service import validate_document

    examples = sorted((ROOT / "schemas" / "examples").glob("form-*.json"))
    assert len(examples) >= 3
    schema = json.loads((ROOT / "schemas" / "FormDocument.json").read_text())
    validator = Draft202012Validator(schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    for path in examples:
        document = json.loads(path.read_text())
        errors = sorted(error.message for error in validator.iter_errors(document))
        assert errors == [], (path.name, errors)
        validate_document(document, datetime(2026, 11, 23, tzinfo=UTC))


def test_the_schema_refuses_what_the_service_refuses() -> None:
    schema = json.loads((ROOT / "schemas" / "FormDocument.json").read_text())
    validator = Draft202012Validator(schema, registry=_registry())
    example = json.loads((ROOT / "schemas" / "examples" / "form-child.json").read_text())
    assert list(validator.iter_errors({**example, "colour": "blue"}))
    wrong_code = {**example, "statistics": {**example["statistics"], "sex": "F"}}
    assert list(validator.iter_errors(wrong_code))


def test_every_form_property_names_its_sensitivity() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    schemas = spec["components"]["schemas"]
    for name in ("Person", "Account", "Perpetrator", "Consent", "Screening", "Statistics", "Exploitation"):
        for prop, definition in schemas[name]["properties"].items():
            assert definition.get("x-sensitivity") in {"public", "identifying", "special", "investigative"}, (
                name, prop)
    assert schemas["Person"]["properties"]["first_name"]["x-sensitivity"] == "identifying"
    assert schemas["FormDocument"]["properties"]["perpetrators"]["x-sensitivity"] == "investigative"


def _referral_examples() -> dict[str, tuple[str, dict[str, object]]]:
    """Every ``referral-*.json`` example, with the schema it is a body of."""
    from nrm_api.referrals.examples import SCHEMA_OF_PREFIX

    found = {}
    for path in sorted((ROOT / "schemas" / "examples").glob("referral-*.json")):
        schema = next(name for prefix, name in SCHEMA_OF_PREFIX.items() if path.name.startswith(prefix))
        found[path.stem] = (schema, json.loads(path.read_text()))
    return found


def test_every_referral_example_validates_as_the_service_validates_it() -> None:
    from nrm_api.referrals import rules
    from nrm_api.referrals.schemas import ReferralCreateSchema, StatusChangeSchema

    examples = _referral_examples()
    assert sum(schema == "ReferralCreate" for schema, _ in examples.values()) >= 2
    assert sum(schema == "StatusChange" for schema, _ in examples.values()) >= 2
    demo_kinds = {"moi": "authority", "iom": "international", "shelter-minsk": "ngo", "legal-brest": "ngo"}
    for name, (schema_name, body) in examples.items():
        schema = json.loads((ROOT / "schemas" / f"{schema_name}.json").read_text())
        validator = Draft202012Validator(schema, registry=_registry(),
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
        assert sorted(error.message for error in validator.iter_errors(body)) == [], name
        if schema_name == "ReferralCreate":
            data = ReferralCreateSchema().load(body)
            assert rules.purpose_errors(data["purpose"], data["services"], demo_kinds[data["to_agency"]]) == {}, name
        else:
            data = StatusChangeSchema().load(body)
            row = next(row for row in rules.TRANSITIONS if row.target == data["status"])
            rules.transition(row.sources[0], data["status"], row.by, data.get("reason"))


def test_the_referral_examples_are_accepted_over_http(client: FlaskClient) -> None:
    from tests.forms.helpers import adult
    from tests.referrals.helpers import network

    net = network(client)
    examples = {name: body for name, (_, body) in _referral_examples().items()}
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    recipients = {"moi": net.moi, "shelter-minsk": net.shelter}
    made = {}
    for name in ("referral-identification", "referral-assistance"):
        body = dict(examples[name])
        to = recipients[str(body.pop("to_agency"))]
        body.pop("form_id")
        made[name] = (to, net.ngo.sdk.refer(form_id, to.id, **body)["id"])
    moi, identification = made["referral-identification"]
    shelter, assistance = made["referral-assistance"]
    assert moi.sdk.set_status(identification, **examples["referral-status-accepted"])["status"] == "accepted"
    assert shelter.sdk.set_status(assistance, **examples["referral-status-rejected"])["status"] == "rejected"
    assert net.ngo.sdk.set_status(identification, **examples["referral-status-cancelled"])["status"] == "cancelled"
