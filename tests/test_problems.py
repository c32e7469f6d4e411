"""Problem bodies go through ``ProblemSchema``, the schema openapi.yaml publishes: what is sent is its allow-list."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from werkzeug.test import TestResponse

from nrm_api.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemSchema

PROBLEM_JSON = json.loads((Path(__file__).resolve().parents[1] / "schemas" / "Problem.json").read_text())
VALIDATOR = Draft202012Validator(PROBLEM_JSON)


def _checked(answer: TestResponse, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = answer.get_json()
    assert not [error.message for error in VALIDATOR.iter_errors(body)]
    assert body == ProblemSchema().dump(body)
    return body


def test_the_schema_problems_are_dumped_through_is_the_one_published() -> None:
    fields = ProblemSchema().fields
    assert set(PROBLEM_JSON["properties"]) == set(fields)
    assert set(PROBLEM_JSON["required"]) == {name for name, field in fields.items() if field.required}
    assert PROBLEM_JSON["additionalProperties"] is False


def test_a_problem_names_only_what_the_schema_allows(app: Flask) -> None:
    answer = Problem(422, "validation-failed", "Unprocessable Content", "the body is wrong",
                     errors={"json": {"vacancies": ["Not a valid integer."]}}, headers={"Retry-After": "3"}).answer()
    body = json.loads(answer.get_data())
    assert body == {"type": "urn:nrm:problem:validation-failed", "title": "Unprocessable Content", "status": 422,
                    "detail": "the body is wrong", "errors": {"json": {"vacancies": ["Not a valid integer."]}}}
    assert answer.headers["Retry-After"] == "3"
    assert not list(VALIDATOR.iter_errors(body))


def test_every_kind_of_error_answer_is_a_problem_the_schema_allows(client: FlaskClient, app: Flask,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _checked(client.get("/api/v1/no-such-thing"), 404)  # werkzeug's routing
    assert "Allow" in client.delete("/api/v1/vocabulary").headers  # werkzeug's 405, with its header
    _checked(client.delete("/api/v1/vocabulary"), 405)
    _checked(client.post("/api/v1/forms", data="{}", content_type="text/plain"), 415)
    _checked(client.post("/api/v1/forms", data='{"a": 1, "a": 2}', content_type="application/json"), 400)
    _checked(client.post("/api/v1/forms", data=b"[" + b" " * (1024 * 1024), content_type="application/json"), 413)
    _checked(client.get("/api/v1/forms/some-form"), 401)  # a domain error (no token)
    lowered = replace(app.extensions["nrm_settings"], unauthenticated_limit=1)
    monkeypatch.setitem(app.extensions, "nrm_settings", lowered)
    _checked(client.get("/api/v1/forms/some-form"), 429)  # the boundary's own answer
