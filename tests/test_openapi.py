"""The generated OpenAPI document and JSON Schemas match the code and are valid."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from nrm_api import openapi

ROOT = Path(__file__).resolve().parents[1]


def test_generated_files_match_the_code() -> None:
    stale = openapi.drift(ROOT)
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
