"""An agency system written with jwcrypto and rfc8785 and the standard library only: none of nrm_api's code."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.parse
import uuid
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwcrypto import jwk, jws, jwt

from tests.serving import call


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A GET that keeps the raw body and the headers (``tests.serving.call`` parses the body)."""
    import urllib.request

    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def token(base: str, client_id: str, private: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """An access token by ``private_key_jwt``: ``alg: EdDSA``, ``aud`` the issuer (the contract's first form)."""
    _, metadata = call(f"{base}/.well-known/oauth-authorization-server")
    now = int(time.time())
    assertion = jwt.JWT(header={"alg": "EdDSA", "typ": "JWT", "kid": private["kid"]},
                        claims={"iss": client_id, "sub": client_id, "aud": metadata["issuer"],
                                "jti": str(uuid.uuid4()), "iat": now, "exp": now + 120})
    assertion.make_signed_token(jwk.JWK(**private))
    form = urllib.parse.urlencode({
        "grant_type": "client_credentials", "client_id": client_id, "client_assertion": assertion.serialize(),
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}).encode()
    status, issued = call(metadata["token_endpoint"], form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, issued
    header = json.loads(base64.urlsafe_b64decode(issued["access_token"].split(".")[0] + "=="))
    return str(issued["access_token"]), header


def sign_detached(payload: bytes, private: dict[str, str], method: str, path: str) -> str:
    """``X-JWS-Signature``: a detached JWS over ``payload``, bound to ``method path``."""
    signer = jws.JWS(payload)
    signer.add_signature(jwk.JWK(**private), None, json.dumps({
        "alg": "Ed25519", "kid": private["kid"], "typ": "nrm+jws", "iat": int(time.time()), "htm": method,
        "htu": path, "jti": str(uuid.uuid4())}))
    head, _, signature = signer.serialize(compact=True).split(".")
    return f"{head}..{signature}"


def verify_compact(compact: str, keys: jwk.JWKSet) -> tuple[dict[str, Any], bytes]:
    """Verify a compact JWS with the JWKS (Ed25519 only); its protected header and payload."""
    token = jws.JWS()
    token.allowed_algs = ["Ed25519"]
    token.deserialize(compact)
    # the key the header names, from the JWKS: a signature by no published key fails as a bad signature
    key = keys.get_key(token.jose_header["kid"])
    assert key is not None, "the signer's kid is not in the JWKS"
    token.verify(key)
    return dict(token.jose_header), bytes(token.payload)


def verify_detached(value: str, payload: bytes, keys: jwk.JWKSet) -> dict[str, Any]:
    """Verify a detached JWS over ``payload``; its protected header."""
    head, middle, signature = value.split(".")
    assert middle == "", "the signature is not detached"
    return verify_compact(f"{head}.{_b64u(payload)}.{signature}", keys)[0]


def write_and_read(base: str, client_id: str, private: dict[str, str], document: dict[str, Any]) -> dict[str, Any]:
    """Submit a signed form, check its receipt, read it back and check the answer's signature."""
    _, _, raw_jwks = _get(f"{base}/.well-known/jwks.json")
    keys = jwk.JWKSet.from_json(raw_jwks.decode())
    access, token_header = token(base, client_id, private)
    body = rfc8785.dumps(document)
    status, answer = call(f"{base}/api/v1/forms", body, {
        "Authorization": f"Bearer {access}", "Content-Type": "application/json",
        "Idempotency-Key": str(uuid.uuid4()), "X-JWS-Signature": sign_detached(body, private, "POST", "/api/v1/forms")})
    assert status == 201, answer
    receipt_header, receipt_payload = verify_compact(answer["receipt"], keys)
    claims = json.loads(receipt_payload)
    assert claims["sha256"] == hashlib.sha256(body).hexdigest(), "the receipt is not over the canonical body"
    assert claims["record"] == answer["id"]
    _, headers, raw = _get(f"{base}/api/v1/forms/{answer['id']}", {"Authorization": f"Bearer {access}"})
    served = json.loads(raw)
    response_header = verify_detached(headers["x-jws-signature"], rfc8785.dumps(served), keys)
    try:
        verify_detached(headers["x-jws-signature"], rfc8785.dumps({**served, "version": served["version"] + 1}), keys)
        tampered_refused = False
    except jws.InvalidJWSSignature:
        tampered_refused = True
    return {"form_id": answer["id"], "token_header": token_header, "receipt_header": receipt_header,
            "receipt_claims": claims, "response_header": response_header, "document": served["document"],
            "tampered_answer_refused": tampered_refused}


def webhook_verifies(headers: dict[str, str], body: bytes, jwks: dict[str, Any], kid: str) -> bool:
    """Standard Webhooks v1a: Ed25519 over ``id.timestamp.body`` with the JWKS key ``kid`` (via jwcrypto)."""
    key = jwk.JWKSet.from_json(json.dumps(jwks)).get_key(kid)
    assert key is not None, f"no key {kid} in the JWKS"
    public: Ed25519PublicKey = key.get_op_key("verify")
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    for part in headers["webhook-signature"].split(" "):
        version, _, value = part.partition(",")
        if version != "v1a":
            continue
        try:
            public.verify(base64.b64decode(value), signed)
            return True
        except InvalidSignature:
            continue
    return False
