"""OAuth authorization-server metadata (RFC 8414), and an SDK that takes its audience from it (issue 9, item 31)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from flask.testing import FlaskClient

from nrm_api.client import NrmClient, NrmError
from nrm_api.client.sdk import Transport
from tests.conftest import BASE_URL, create_agency, create_client
from tests.forms.helpers import adult

#: Where an agency's system reaches the service: a proxy's internal name, not NRM_BASE_URL.
INTERNAL = "http://nrm-internal.example:8443/gateway"


def test_the_metadata_names_the_issuer_and_endpoints(client: FlaskClient) -> None:
    answer = client.get("/.well-known/oauth-authorization-server", base_url="http://elsewhere.example")
    assert answer.status_code == 200
    assert answer.get_json() == {
        "issuer": BASE_URL,
        "token_endpoint": f"{BASE_URL}/api/v1/auth/token",
        "jwks_uri": f"{BASE_URL}/.well-known/jwks.json",
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["Ed25519", "EdDSA"],
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
    }
    assert "public" in answer.headers["Cache-Control"]


def _through(http: FlaskClient, seen: list[str]) -> Transport:
    """A transport that reaches the app only at ``INTERNAL``: any other URL is unreachable."""

    def send(method: str, url: str, headers: Mapping[str, str], body: bytes | None
             ) -> tuple[int, Mapping[str, str], bytes]:
        seen.append(url)
        if not url.startswith(INTERNAL + "/"):
            raise ConnectionError(f"unreachable from here: {url}")
        response = http.open(url[len(INTERNAL):], method=method, headers=dict(headers), data=body,
                             base_url="http://nrm-internal.example:8443")
        return response.status_code, dict(response.headers), response.get_data()

    return send


def test_the_sdk_works_at_a_url_other_than_the_base_url(client: FlaskClient) -> None:
    agency_id = create_agency()
    client_id, private = create_client(agency_id)
    seen: list[str] = []
    sdk = NrmClient(INTERNAL, client_id, private, _through(client, seen))
    written = sdk.submit_form(adult())
    assert sdk.read_form(written["id"])["document"]["person"]["first_name"] == "Olga"
    assert f"{INTERNAL}/.well-known/oauth-authorization-server" in seen
    assert f"{INTERNAL}/api/v1/auth/token" in seen


def test_the_sdk_refuses_a_service_naming_another_issuer(client: FlaskClient) -> None:
    client_id, private = create_client(create_agency())
    sdk = NrmClient(INTERNAL, client_id, private, _through(client, []), issuer="https://nrm.example")
    with pytest.raises(NrmError) as refused:
        sdk.token()
    assert refused.value.problem["type"] == "issuer-mismatch"
