"""What schemathesis found from outside (issue 10), each pinned by a test that failed before its fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import marshmallow as ma
import pytest
import yaml
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from nrm_api import create_app
from nrm_api.agencies.schemas import ServiceSchema
from nrm_api.forms.document import StatisticsSchema
from tests.conftest import bearer, create_user, dispose, login_token, settings

ROOT = Path(__file__).resolve().parents[1]
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
HUGE = 2**63


def _operation(method: str, path: str) -> dict[str, Any]:
    return dict(SPEC["paths"][f"/api/v1{path}"][method])


def _header_schema(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(next(p["schema"] for p in operation["parameters"] if p["name"] == name))


@pytest.mark.parametrize("url", [f"/api/v1/audit/events/0/proof?tree_size={HUGE}",
                                 f"/api/v1/audit/consistency?from=1&to={HUGE}",
                                 f"/api/v1/audit/consistency?from={HUGE}&to=1",
                                 f"/api/v1/audit/events/{HUGE}/proof"])
def test_integers_beyond_the_safe_range_are_refused_not_a_500(client: FlaskClient, url: str) -> None:
    token = login_token(client, create_user("auditor"))
    response = client.get(url, headers=bearer(token))
    assert response.status_code in (404, 422), response.get_data()


def test_every_integer_parameter_is_bounded() -> None:
    for path, operations in SPEC["paths"].items():
        for method, operation in operations.items():
            parameters = operation if method == "parameters" else operation.get("parameters", [])
            for parameter in parameters:
                schema = parameter.get("schema", {})
                if schema.get("type") == "integer":
                    assert schema.get("maximum", HUGE) <= 2**53 - 1, (method, path, parameter["name"])


@pytest.mark.parametrize("value", [2.5, "7", True])
def test_a_count_is_a_json_integer(value: object) -> None:
    with pytest.raises(ma.ValidationError):
        ServiceSchema().load({"service": "accommodation", "vacancies": value})


def test_an_integral_number_is_an_integer_as_json_schema_says() -> None:
    document = {"age_band": "27--29", "sex": "Feminine", "year": 2072.0}
    assert StatisticsSchema().load(document)["year"] == 2072
    schema = SPEC["components"]["schemas"]["Statistics"]
    assert not list(Draft202012Validator(schema).iter_errors(document))
    assert ServiceSchema().load({"service": "accommodation", "vacancies": 7.0})["vacancies"] == 7


def test_no_operation_hides_its_answers_behind_default() -> None:
    for path, operations in SPEC["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                assert "default" not in operation["responses"], (method, path)


@pytest.mark.parametrize(("method", "path"), [("post", "/forms"), ("put", "/forms/{form_id}"),
                                              ("post", "/forms/{form_id}/decision"),
                                              ("post", "/referrals/{referral_id}/status"),
                                              ("post", "/transfers/{transfer_id}/status")])
def test_signed_writes_declare_their_refusals(method: str, path: str) -> None:
    operation = _operation(method, path)
    expected = {"400", "401", "409", "422"}
    if any(p["name"] == "If-Match" for p in operation["parameters"]):
        expected |= {"412", "428"}
    assert expected <= set(operation["responses"]), sorted(operation["responses"])


def test_empty_signature_idempotency_key_and_if_match_are_schema_invalid() -> None:
    submit, update = _operation("post", "/forms"), _operation("put", "/forms/{form_id}")
    for operation, name in [(submit, "X-JWS-Signature"), (submit, "Idempotency-Key"), (update, "If-Match")]:
        assert list(Draft202012Validator(_header_schema(operation, name)).iter_errors("")), name
    assert not list(Draft202012Validator(_header_schema(submit, "X-JWS-Signature")).iter_errors("aGVhZA..c2ln"))


def test_the_vocabulary_declares_its_answer() -> None:
    ok = _operation("get", "/vocabulary")["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["type"] == "object"


def test_drafts_have_a_schema_of_their_own_with_nothing_required() -> None:
    body = _operation("post", "/drafts")["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/FormDraft"}
    schemas = SPEC["components"]["schemas"]
    drafts = [name for name in schemas if name == "FormDraft" or name.startswith("Draft") and name != "Draft"]
    assert len(drafts) > 5
    for name in drafts:
        assert "required" not in schemas[name], name
    assert "required" in schemas["FormDocument"]


def test_lists_that_refuse_duplicates_say_so() -> None:
    exploitation = SPEC["components"]["schemas"]["Exploitation"]["properties"]
    assert exploitation["types_of_exploitation"]["uniqueItems"] is True


def test_a_wrong_method_on_the_token_endpoint_is_405(client: FlaskClient) -> None:
    response = client.put("/api/v1/auth/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_the_headers_answers_carry_are_declared() -> None:
    submit = _operation("post", "/forms")["responses"]["201"]["headers"]
    assert {"ETag", "Location"} <= set(submit)
    assert "ETag" in _operation("post", "/referrals/{referral_id}/status")["responses"]["200"]["headers"]
    read = _operation("get", "/forms/{form_id}")["responses"]["200"]["headers"]
    assert {"X-JWS-Signature", "ETag"} <= set(read)


def test_the_client_credentials_scheme_is_declared() -> None:
    scheme = SPEC["components"]["securitySchemes"]["clientCredentials"]
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == "/api/v1/auth/token"
    assert {"clientCredentials": []} in _operation("get", "/agencies")["security"]


@pytest.mark.parametrize(("path", "schema"), [("/.well-known/jwks.json", "Jwks"),
                                              ("/.well-known/oauth-authorization-server", "AuthorizationServer"),
                                              ("/healthz", "Liveness"), ("/readyz", "Readiness")])
def test_discovery_and_the_probes_are_operations_of_the_contract(client: FlaskClient, path: str,
                                                                 schema: str) -> None:
    declared = SPEC["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert declared == {"$ref": f"#/components/schemas/{schema}"}
    assert "security" not in SPEC["paths"][path]["get"]
    answer = client.get(path)
    assert answer.status_code == 200
    rooted = {"$ref": f"#/components/schemas/{schema}", "components": SPEC["components"]}
    assert not list(Draft202012Validator(rooted).iter_errors(answer.get_json()))


def test_not_ready_is_a_declared_503_of_the_same_shape(tmp_path: Path, keyring_path: Path) -> None:
    app = create_app(settings(f"sqlite:///{tmp_path / 'no-such-folder' / 'nrm.db'}", keyring_path))
    try:
        answer = app.test_client().get("/readyz")
    finally:
        dispose(app)
    assert answer.status_code == 503
    assert answer.get_json() == {"status": "not ready", "checks": {"database": False, "keyring": True}}
    declared = SPEC["paths"]["/readyz"]["get"]["responses"]["503"]["content"]["application/json"]["schema"]
    assert declared == {"$ref": "#/components/schemas/Readiness"}
