"""The published contract checked from outside: schemathesis over every operation of ``openapi.yaml``.

It reads the committed document (what integrators read), not the app's, and calls a real ``nrm-api serve``
over HTTP on each backend as three principals: an agency system, a caseworker and an auditor. Every check
schemathesis has is on: no 500, no status code the operation does not declare, every answer matching its
declared schema, headers and content type, input the schema calls invalid refused, input it calls valid
accepted, a request without or with a wrong token refused, and, in the stateful phase (links inferred
from ``Location`` and from the schemas), what was created readable and what was deleted gone. Signed
writes are signed by a hook, as any client would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import schemathesis
import yaml
from schemathesis import Case

from nrm_api.client import NrmClient
from nrm_api.crypto.canonical import NotCanonicalizable, canonical
from nrm_api.crypto.jws import sign_detached
from tests.conftest import _backends, create_agency, create_client, create_user
from tests.forms.helpers import adult
from tests.serving import Server, serve

ROOT = Path(__file__).resolve().parents[1]
#: Examples per operation in the fuzzing phase, and steps per stateful scenario: enough to find what a
#: bound or a type lets through, in a few minutes per backend on a busy machine.
MAX_EXAMPLES = 6
MAX_STEPS = 4
#: A schema-valid request may still be refused for what no schema can say: a stale ``If-Match`` (412),
#: a rule across fields or against the stored case (422, e.g. a referral of a form to its own agency).
ACCEPTED = ["2xx", "401", "403", "404", "409", "412", "422", "428", "429"]
CONFIG = {
    "cache": {"enabled": False},  # nothing written under the project (a run must not depend on the last)
    "request-timeout": 30,
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
    "phases": {"examples": {"enabled": False}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True},
               "stateful": {"enabled": True, "max-steps": MAX_STEPS}},
    "checks": {"enabled": True, "positive_data_acceptance": {"expected-statuses": ACCEPTED},
               # needs two principals of different agencies in one run: tests/referrals/test_bola.py
               "object_level_authorization": {"enabled": False}},
}

REVOKE = "/api/v1/auth/revoke"
#: The operations whose body is a whole form: the coverage phase's boundary cases of one number thousands.
NEW_FORMS = {"include-path": "/api/v1/forms", "include-method": "POST"}
#: The same schema again: drafts (nothing required) and replacements (a generated id: 404 before validation).
OTHER_FORMS = {"include-path-regex": r"^/api/v1/(forms/\{form_id\}|drafts(/\{draft_id\})?)$",
               "include-method-regex": "^(POST|PUT)$"}
NO_COVERAGE = {"phases": {"coverage": {"enabled": False}}}
#: How deep each run goes. Validating a form does not depend on who sends it, so its every invalid case
#: (coverage phase, negative) is sent once: to POST /forms by the agency system on the last backend
#: (PostgreSQL when it answers). Forms and drafts go through the fuzzing and stateful phases in every
#: run, every other operation through every phase.
DEEP = {"operations": [{**NEW_FORMS, "phases": {"coverage": {"generation": {"mode": "negative"}}}},
                       {**OTHER_FORMS, **NO_COVERAGE}]}
LEAN = {"operations": [{**NEW_FORMS, **NO_COVERAGE}, {**OTHER_FORMS, **NO_COVERAGE}]}
PRINCIPALS = ["system", "caseworker", "auditor"]
#: Who runs on which backend: everyone on PostgreSQL when it answers (as deployed); the agency system,
#: whose writes reach the storage code, on SQLite too.
PRIMARY = _backends()[-1]
RUNS = [(PRIMARY, name) for name in PRINCIPALS] + ([("sqlite", "system")] if PRIMARY != "sqlite" else [])


#: What the hook signs with, set for each principal's run (schemathesis calls ``before_call`` hooks globally).
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
        path = unquote(urlsplit(case.formatted_path).path)
        headers["X-JWS-Signature"] = sign_detached(payload, SIGNER["private"], case.method.upper(), path)
    if "Idempotency-Key" in headers:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    case.headers = headers


@pytest.fixture(scope="module")
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A served instance per backend; refused requests are the point here, so the flood limit is out of the way."""
    folder = tmp_path_factory.mktemp(f"contract-{request.param}")
    with serve(request.param, folder, workers=2, systems=0,
               extra_env=lambda _url: {"NRM_UNAUTHENTICATED_LIMIT": str(10**9)}) as server:
        yield server


@pytest.fixture(scope="module")
def principals(served: Server) -> dict[str, dict[str, Any]]:
    """Each principal's token, all taken before any run (a run's failed sign-ins throttle this address)."""
    return signed_in(served)


def signed_in(served: Server) -> dict[str, dict[str, Any]]:
    """A token (and, for the system, its key) per principal, each of an agency of its own with a form in it.

    Agencies of their own: one's sign-out ends nobody else's run.
    """
    found: dict[str, dict[str, Any]] = {}
    for name in PRINCIPALS:
        with served.beside():
            agency_id = create_agency(kind="authority" if name == "auditor" else "ngo")
            client_id, private = create_client(agency_id)
            user = None if name == "system" else create_user(name, agency_id=agency_id)
        system = NrmClient(served.base, client_id, private)
        system.submit_form(adult())
        token = system.token() if user is None else served.login(user)
        found[name] = {"token": token, "private": private if user is None else None}
    return found


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


def published(server: Server, principal: dict[str, Any], depth: dict[str, Any]) -> Any:
    """The committed openapi.yaml, against ``server``, authenticated as ``principal``, its writes signed."""
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    auth = {"openapi": {"bearerAuth": {"bearer": principal["token"]}}}
    config = schemathesis.Config.from_dict({**CONFIG, **depth, "base-url": server.base, "auth": auth})
    return schemathesis.openapi.from_dict(document, config=config)


@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # hypothesis, of a generated form
@pytest.mark.parametrize(("served", "name"), RUNS, indirect=["served"])
def test_every_operation_keeps_the_contract(served: Server, principals: dict[str, dict[str, Any]],
                                            name: str) -> None:
    principal = principals[name]
    depth = DEEP if name == "system" and served.database_url.startswith(PRIMARY) else LEAN
    SIGNER.update(private=principal["private"])
    try:
        # signing out ends the token the rest of the run uses: it goes last, on its own
        found = failures(published(served, principal, depth).exclude(path=REVOKE))
        found += failures(published(served, principal, depth).include(path=REVOKE))
    finally:
        SIGNER.clear()
    assert found == [], "\n".join(found) + "\n" + served.server_errors()[-3000:]
