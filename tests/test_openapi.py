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
