"""The published contract checked from outside: schemathesis over every operation of ``openapi.yaml``.

It reads the committed document (what integrators read), not the app's, and calls the app in-process
as three principals: an agency system, a caseworker and an auditor. Its checks: no 500, no status code
the operation does not declare, every answer matching its declared schema, headers and content type,
and input the schema calls invalid refused. Signed writes are signed by a hook, as any client would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import schemathesis
import yaml
from flask import Flask
from schemathesis import Case

from nrm_api import create_app
from nrm_api.crypto.canonical import NotCanonicalizable, canonical
from nrm_api.crypto.jws import sign_detached
from tests.conftest import client_token, create_user, dispose, login_token, rolled_back
from tests.conftest import settings as app_settings
from tests.forms.helpers import adult, agency

ROOT = Path(__file__).resolve().parents[1]
#: Examples per operation and phase: enough to find what a bound or a type lets through, in a few minutes.
MAX_EXAMPLES = 15
CONFIG = {
    "cache": {"enabled": False},  # nothing written under the project (a run must not depend on the last)
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
    "phases": {"examples": {"enabled": False}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True},
               "stateful": {"enabled": False}},
    "checks": {"enabled": True, "positive_data_acceptance": {"enabled": False},
               # these need stateful links or a second principal's resources: other tests cover them
               "use_after_free": {"enabled": False}, "ensure_resource_availability": {"enabled": False},
               "object_level_authorization": {"enabled": False},
               # its probe reaches a WSGI app with the network-only `max_redirects` (schemathesis 4.32):
               # tests/test_permissions.py sends every route a request without a token instead
               "ignored_auth": {"enabled": False}},
}

REVOKE = "/api/v1/auth/revoke"
#: What the hook signs with, set per principal by the ``principal`` fixture.
SIGNER: dict[str, Any] = {}


@schemathesis.hook
def before_call(context: Any, case: Case, kwargs: dict[str, Any]) -> None:
    """Sign the generated body as the agency system would, with fresh jti and idempotency key."""
    if not SIGNER:
        return
    headers = case.headers if case.headers is not None else {}
    if "X-JWS-Signature" in headers and SIGNER.get("private"):
        try:
            payload = canonical(case.body)
        except NotCanonicalizable:
            return  # not JSON the service could read either: sent unsigned, refused all the same
        path = unquote(case.formatted_path)
        headers["X-JWS-Signature"] = sign_detached(payload, SIGNER["private"], case.method.upper(), path)
    if "Idempotency-Key" in headers:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    case.headers = headers


@pytest.fixture(scope="module")
def contract_app(database_url: str, keyring_path: Path) -> Iterator[Flask]:
    """An app of its own: refused requests are the point here, so the flood limit is out of the way."""
    app = create_app(app_settings(database_url, keyring_path, UNAUTHENTICATED_LIMIT=10**9))
    yield app
    dispose(app)


@pytest.fixture(params=["system", "caseworker", "auditor"])
def principal(request: pytest.FixtureRequest, contract_app: Flask, database_url: str) -> Iterator[dict[str, Any]]:
    """A principal with a token, inside a transaction rolled back at the end."""
    if request.param != "system" and database_url.startswith("postgresql"):
        pytest.skip("people's runs go through the same code as the system's: on SQLite only, to keep make test short")
    with rolled_back(contract_app) as app:
        http = app.test_client()
        system = agency(http, "ngo")
        form = system.sdk.submit_form(adult())
        if request.param == "system":
            token, private = client_token(http, system.client_id, system.private_jwk), system.private_jwk
        else:
            user = create_user(request.param, agency_id=system.id)
            token, private = login_token(http, user), None
        SIGNER.update(private=private)
        try:
            yield {"name": request.param, "token": token, "form": form["id"], "app": app}
        finally:
            SIGNER.clear()


def failures(schema: Any) -> list[str]:
    """Run every phase over ``schema``; return each distinct failure (and any 5xx) as one line."""
    from schemathesis.engine import Status, events, from_schema

    found: set[str] = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.NonFatalError | events.FatalError):
            found.add(f"{getattr(event, 'label', '-')}: error in {event.phase}: {event.info.title}: "
                      f"{event.info.message[:300]}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        for case_id, interaction in event.recorder.interactions.items():
            status = interaction.response.status_code if interaction.response is not None else None
            if status is not None and status >= 500:
                found.add(f"{event.label}: {status} for {interaction.request.method} {interaction.request.uri}")
            for check in event.recorder.checks.get(case_id, []):
                if check.status == Status.FAILURE and check.failure_info is not None:
                    found.add(f"{event.label}: {check.name} ({status}): {check.failure_info.failure.title}")
    return sorted(found)


def published(principal: dict[str, Any]) -> Any:
    """The committed openapi.yaml, called in-process on the app, authenticated as ``principal``."""
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    auth = {"openapi": {"bearerAuth": {"bearer": principal["token"]}}}
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config.from_dict({**CONFIG, "auth": auth}))
    schema.app = principal["app"]
    return schema


@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # hypothesis, of a generated form
def test_every_operation_keeps_the_contract(principal: dict[str, Any]) -> None:
    # signing out ends the token the rest of the run uses: it goes last, on its own
    found = failures(published(principal).exclude(path=REVOKE))
    found += failures(published(principal).include(path=REVOKE))
    assert found == [], "\n".join(found)
