"""Request hygiene every endpoint shares: problem+json, request ids, strict JSON, limits."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from nrm_api import create_app
from tests.conftest import bearer, create_user, dispose, login_token, settings

LOGIN = "/api/v1/auth/login"


def _is_problem(response: object, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.mimetype == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.get_json()  # type: ignore[attr-defined]
    assert body["type"] == f"urn:nrm:problem:{slug}"
    assert body["status"] == status
    assert body["title"]
    return body


def test_unknown_path_is_a_404_problem(client: FlaskClient) -> None:
    _is_problem(client.get("/api/v1/nothing-here"), 404, "not-found")


def test_wrong_method_is_a_405_problem_with_allow(client: FlaskClient) -> None:
    response = client.delete(LOGIN)
    _is_problem(response, 405, "method-not-allowed")
    assert "POST" in response.headers["Allow"]


def test_a_body_that_is_not_json_is_415(client: FlaskClient) -> None:
    _is_problem(client.post(LOGIN, data="username=x", content_type="text/plain"), 415, "unsupported-media-type")


def test_malformed_json_is_400(client: FlaskClient) -> None:
    _is_problem(client.post(LOGIN, data='{"username": ', content_type="application/json"), 400, "malformed-json")
    _is_problem(client.post(LOGIN, data=b'{"a": "\xff"}', content_type="application/json"), 400, "malformed-json")
    _is_problem(client.post(LOGIN, data='{"a": NaN}', content_type="application/json"), 400, "malformed-json")


def test_duplicate_member_names_are_400(client: FlaskClient) -> None:
    body = '{"username": "alice", "password": "one", "password": "two"}'
    _is_problem(client.post(LOGIN, data=body, content_type="application/json"), 400, "duplicate-member")
    nested = '{"username": "alice", "password": "x", "otp": {"a": 1, "a": 2}}'
    _is_problem(client.post(LOGIN, data=nested, content_type="application/json"), 400, "duplicate-member")


def test_a_body_over_one_mebibyte_is_413(client: FlaskClient) -> None:
    body = '{"username": "' + "x" * (1024 * 1024) + '"}'
    _is_problem(client.post(LOGIN, data=body, content_type="application/json"), 413, "payload-too-large")


def test_validation_errors_are_422_with_field_errors(client: FlaskClient) -> None:
    body = _is_problem(client.post(LOGIN, json={"password": "x"}), 422, "validation-failed")
    assert "username" in str(body["errors"])


def test_every_response_carries_a_request_id(client: FlaskClient) -> None:
    assert client.get("/healthz").headers["X-Request-Id"]
    assert client.get("/nope").headers["X-Request-Id"]
    chosen = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert chosen.headers["X-Request-Id"] != "abc-123"
    assert uuid.UUID(chosen.headers["X-Request-Id"])


def test_the_audit_event_holds_the_services_request_id_and_the_clients_beside_it(client: FlaskClient) -> None:
    from tests.conftest import last_event

    # each from an address of its own: repeated refusals from one address are logged as one count
    answer = client.get("/api/v1/agencies", headers={"X-Request-Id": "trace-42"},
                        environ_base={"REMOTE_ADDR": "192.0.2.1"})
    event = last_event()
    first = event.request_id
    assert (first, event.client_request_id) == (answer.headers["X-Request-Id"], "trace-42")
    assert json.loads(event.body)["client_request_id"] == "trace-42"
    # Another request naming the same id does not take over the first one's id in the log.
    again = client.get("/api/v1/agencies", headers={"X-Request-Id": "trace-42"},
                       environ_base={"REMOTE_ADDR": "192.0.2.2"})
    assert last_event().request_id == again.headers["X-Request-Id"] != first


def test_a_hostile_client_request_id_is_bounded_and_sanitised(client: FlaskClient) -> None:
    from tests.conftest import last_event

    # each from an address of its own: repeated refusals from one address are logged as one count
    client.get("/api/v1/agencies", headers={"X-Request-Id": "<script>" + "x" * 300},
               environ_base={"REMOTE_ADDR": "192.0.2.3"})
    kept = last_event().client_request_id
    assert kept == "_script_" + "x" * 120
    client.get("/api/v1/agencies", headers={"X-Request-Id": "a b\tc\"d'e;f"}, environ_base={"REMOTE_ADDR": "192.0.2.4"})
    assert last_event().client_request_id == "a_b_c_d_e_f"
    client.get("/api/v1/agencies", environ_base={"REMOTE_ADDR": "192.0.2.5"})
    assert last_event().client_request_id is None


def test_api_responses_are_not_cached(client: FlaskClient) -> None:
    token = login_token(client, create_user())
    response = client.get("/api/v1/agencies", headers=bearer(token))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": True, "keyring": True}


@pytest.fixture
def broken_app(database_url: str, keyring_path: Path) -> Iterator[Flask]:
    """An app of its own with a route that fails with personal data in its exception."""
    app = create_app(settings(database_url, keyring_path))

    @app.get("/api/v1/test-explode")
    def explode() -> str:
        raise RuntimeError("Ivanova Olga 1999-02-03")

    yield app
    dispose(app)


def test_an_unexpected_error_is_a_bare_500_that_leaks_nothing(broken_app: Flask,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    response = broken_app.test_client().get("/api/v1/test-explode")
    body = _is_problem(response, 500, "internal-error")
    assert "Ivanova" not in response.get_data(as_text=True)
    assert "detail" not in body
    assert "Ivanova" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_docs_are_served_without_outside_hosts(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "/api/docs/static/swagger-ui-bundle.js" in page.get_data(as_text=True)
    assert '"validatorUrl": null' in page.get_data(as_text=True)  # else the UI posts the document outside
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
