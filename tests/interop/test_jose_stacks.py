"""Independent JOSE stacks against a served nrm-api, both ways: Node's jose + canonicalize, Python's jwcrypto + rfc8785.

Each stack gets a token with ``private_key_jwt``, signs and submits a form, and verifies the receipt
and the answer's signature with nothing but the JWKS; then a webhook the service signed verifies in
both. None of nrm_api's signing code is used on the client side, so a server that signed the wrong
bytes, with the wrong header or the wrong key fails here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import rfc8785

from tests.forms.helpers import adult
from tests.interop import jwcrypto_agency
from tests.interop.conftest import DELIVERY_SECONDS, Interop
from tests.serving import call

NODE_DIR = Path(__file__).with_name("node")
SCRIPT = NODE_DIR / "interop.mjs"


def node(task: dict[str, Any]) -> dict[str, Any]:
    """Run the Node agency on one task; its result (any failed check there fails the test with its message)."""
    executable = shutil.which("node")
    assert executable, "Node.js is needed (make system-packages installs npm, which brings it)"
    assert (NODE_DIR / "node_modules" / "jose").is_dir(), "run make test: it installs tests/interop/node with npm ci"
    done = subprocess.run([executable, str(SCRIPT)], input=json.dumps(task), cwd=NODE_DIR, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _document() -> dict[str, Any]:
    # a distinct person each time, so no possible duplicate hides a difference
    return adult(account={"narrative": f"Promised work, case {uuid.uuid4().hex[:8]}.", "needs": "Safe housing."})


def _kids(server_base: str) -> set[str]:
    _, jwks = call(f"{server_base}/.well-known/jwks.json")
    return {key["kid"] for key in jwks["keys"]}


def _check_round_trip(result: dict[str, Any], document: dict[str, Any], base: str) -> None:
    """What both stacks must have seen: the algorithms and types the contract names, over the right bytes."""
    assert result["token_header"]["alg"] == "EdDSA"
    assert result["token_header"]["typ"] == "at+jwt"
    assert result["receipt_header"]["alg"] == "Ed25519"
    assert result["receipt_header"]["typ"] == "nrm-receipt+jwt"
    assert result["receipt_header"]["kid"] in _kids(base)
    # computed here a third time, from the document alone
    assert result["receipt_claims"]["sha256"] == hashlib.sha256(rfc8785.dumps(document)).hexdigest()
    assert result["receipt_claims"]["record"] == result["form_id"]
    assert result["response_header"]["alg"] == "Ed25519"
    assert result["response_header"]["typ"] == "nrm-response+jws"
    assert result["tampered_answer_refused"] is True
    assert result["document"]["account"] == document["account"]


def test_node_jose_gets_a_token_signs_a_form_and_verifies_receipt_and_answer(interop: Interop) -> None:
    client_id, private = interop.server.systems[0]
    document = _document()
    result = node({"mode": "write", "base": interop.server.base, "client_id": client_id, "private_jwk": private,
                   "document": document})
    _check_round_trip(result, document, interop.server.base)


def test_jwcrypto_gets_a_token_signs_a_form_and_verifies_receipt_and_answer(interop: Interop) -> None:
    client_id, private = interop.server.systems[0]
    document = _document()
    result = jwcrypto_agency.write_and_read(interop.server.base, client_id, private, document)
    _check_round_trip(result, document, interop.server.base)


def _delivery(interop: Interop) -> tuple[dict[str, str], bytes]:
    """Have the service sign a webhook: the authority registers its endpoint, the NGO refers a form to it."""
    agency, client_id, private = interop.authority
    access, _ = jwcrypto_agency.token(interop.server.base, client_id, private)
    status, endpoint = call(f"{interop.server.base}/api/v1/webhooks/endpoint",
                            json.dumps({"url": interop.receiver.url}).encode(),
                            {"Authorization": f"Bearer {access}", "Content-Type": "application/json"}, method="PUT")
    assert status == 200, endpoint
    ngo = interop.server.sdk(0)
    form = ngo.submit_form(_document())
    ngo.refer(form["id"], agency, "identification", priority="urgent")
    deadline = time.monotonic() + DELIVERY_SECONDS
    while not interop.receiver.deliveries and time.monotonic() < deadline:
        interop.receiver.arrived.wait(1)
    assert interop.receiver.deliveries, f"no webhook within {DELIVERY_SECONDS} s: {interop.server.server_errors()}"
    return interop.receiver.deliveries[0]


def test_a_webhook_the_service_signed_verifies_in_node_and_in_jwcrypto(interop: Interop) -> None:
    headers, body = _delivery(interop)
    agency, client_id, private = interop.authority
    access, _ = jwcrypto_agency.token(interop.server.base, client_id, private)
    _, endpoint = call(f"{interop.server.base}/api/v1/webhooks/endpoint", headers={"Authorization": f"Bearer {access}"})
    _, jwks = call(f"{interop.server.base}/.well-known/jwks.json")

    checked = node({"mode": "webhook", "jwks": jwks, "kid": endpoint["kid"], "public_key": endpoint["public_key"],
                    "headers": headers, "body_b64": base64.b64encode(body).decode()})
    assert checked["valid"] is True
    assert checked["tampered_valid"] is False
    assert checked["event"] == json.loads(body)

    assert jwcrypto_agency.webhook_verifies(headers, body, jwks, endpoint["kid"])
    assert not jwcrypto_agency.webhook_verifies(headers, body + b" ", jwks, endpoint["kid"])
    assert not jwcrypto_agency.webhook_verifies({**headers, "webhook-id": "msg_other"}, body, jwks, endpoint["kid"])
