"""Detached JWS over canonical JSON: the signed-write policy and every JOSE attack it must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from nrm_api.crypto import TokenError
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jose import RESPONSE_TYPE, generate_private_jwk, public_half
from nrm_api.crypto.jws import sign_detached, sign_service, verify_detached
from nrm_api.crypto.keyring import SigningKey, unb64u

AGENCY_KEY = generate_private_jwk()
OTHER_AGENCY_KEY = generate_private_jwk()
PATH = "/api/v1/forms"
BODY = canonical({"person": {"first_name": "Olga"}, "consent": {"identification": True}})


def _resolve(kid: str) -> dict[str, str] | None:
    """The caller's agency has one key; another agency's key is unknown to it."""
    return public_half(AGENCY_KEY) if kid == AGENCY_KEY["kid"] else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw(header: dict[str, Any], payload: bytes, key: dict[str, str] = AGENCY_KEY) -> str:
    """Sign as an attacker would, with no library checking the header."""
    private = Ed25519PrivateKey.from_private_bytes(unb64u(key["d"]))
    head = _b64(json.dumps(header).encode())
    return f"{head}..{_b64(private.sign(f'{head}.{_b64(payload)}'.encode()))}"


def _header(**extra: Any) -> dict[str, Any]:
    return {"alg": "Ed25519", "kid": AGENCY_KEY["kid"], "typ": "nrm+jws", "iat": int(time.time()),
            "htm": "POST", "htu": PATH, "jti": "j-1", **extra}


def _refused(value: str | None, code: str, payload: bytes = BODY) -> None:
    with pytest.raises(TokenError) as caught:
        verify_detached(value, payload, _resolve, "POST", PATH)
    assert caught.value.code == code


def test_a_signed_body_verifies() -> None:
    header = verify_detached(sign_detached(BODY, AGENCY_KEY, "POST", PATH), BODY, _resolve, "POST", PATH)
    assert header["kid"] == AGENCY_KEY["kid"]
    assert verify_detached(_raw(_header(alg="EdDSA"), BODY), BODY, _resolve, "POST", PATH)["alg"] == "EdDSA"


def test_a_body_altered_after_signing_is_refused() -> None:
    signature = sign_detached(BODY, AGENCY_KEY, "POST", PATH)
    _refused(signature, "bad_signature", BODY.replace(b"Olga", b"Olha"))


def test_another_agencys_key_is_refused() -> None:
    _refused(sign_detached(BODY, OTHER_AGENCY_KEY, "POST", PATH), "unknown_kid")
    forged = {**OTHER_AGENCY_KEY, "kid": AGENCY_KEY["kid"]}
    _refused(sign_detached(BODY, forged, "POST", PATH), "bad_signature")


def test_alg_none_is_refused() -> None:
    head = _b64(json.dumps(_header(alg="none")).encode())
    _refused(f"{head}..", "malformed_signature")
    _refused(f"{head}..AAAA", "unsupported_algorithm")


def test_hmac_with_the_public_key_as_secret_is_refused() -> None:
    header = _header(alg="HS256")
    head = _b64(json.dumps(header).encode())
    mac = hmac.new(AGENCY_KEY["x"].encode(), f"{head}.{_b64(BODY)}".encode(), hashlib.sha256).digest()
    _refused(f"{head}..{_b64(mac)}", "unsupported_algorithm")


@pytest.mark.parametrize(("extra", "code"), [
    ({"crit": ["nrm-ext"], "nrm-ext": 1}, "forbidden_header"),
    ({"jku": "https://attacker.example/jwks"}, "forbidden_header"),
    ({"x5u": "https://attacker.example/cert"}, "forbidden_header"),
    ({"jwk": public_half(OTHER_AGENCY_KEY)}, "forbidden_header"),
    ({"typ": "JWT"}, "wrong_type"),
    ({"iat": int(time.time()) - 3600}, "stale_iat"),
    ({"iat": int(time.time()) + 3600}, "stale_iat"),
    ({"iat": "now"}, "missing_iat"),
    ({"pad": "x" * 2000}, "header_too_large"),
    ({"htm": "PUT"}, "htm_mismatch"),
    ({"htm": "post"}, "htm_mismatch"),
    ({"htm": None}, "htm_mismatch"),
    ({"htu": "/api/v1/forms/other"}, "htu_mismatch"),
    ({"htu": "https://nrm.example/api/v1/forms"}, "htu_mismatch"),
    ({"htu": None}, "htu_mismatch"),
    ({"jti": None}, "missing_jti"),
    ({"jti": ""}, "missing_jti"),
    ({"jti": 7}, "missing_jti"),
    ({"jti": "j" * 65}, "missing_jti"),
])
def test_headers_outside_the_policy_are_refused(extra: dict[str, Any], code: str) -> None:
    _refused(_raw({k: v for k, v in _header(**extra).items() if v is not None}, BODY), code)


def test_a_signature_binds_method_and_path_and_carries_a_fresh_jti() -> None:
    signature = sign_detached(BODY, AGENCY_KEY, "POST", "/api/v1/referrals/r1/status?x=1")
    header = verify_detached(signature, BODY, _resolve, "POST", "/api/v1/referrals/r1/status")
    assert header["htm"] == "POST" and header["htu"] == "/api/v1/referrals/r1/status"
    with pytest.raises(TokenError) as caught:
        verify_detached(signature, BODY, _resolve, "POST", "/api/v1/referrals/r2/status")
    assert caught.value.code == "htu_mismatch"
    again = sign_detached(BODY, AGENCY_KEY, "POST", "/api/v1/referrals/r1/status")
    assert verify_detached(again, BODY, _resolve, "POST", "/api/v1/referrals/r1/status")["jti"] != header["jti"]


def test_missing_or_malformed_signatures_are_refused() -> None:
    _refused(None, "missing_signature")
    _refused("", "missing_signature")
    attached = sign_detached(BODY, AGENCY_KEY, "POST", PATH).replace("..", f".{_b64(BODY)}.")
    _refused(attached, "malformed_signature")
    _refused("eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..bm9uY2U.Y2lwaGVy.dGFn", "malformed_signature")
    _refused("!!..!!", "malformed_signature")
    dup = _b64(b'{"alg":"Ed25519","alg":"none","kid":"k","typ":"nrm+jws","iat":1}')
    _refused(f"{dup}..AAAA", "malformed_signature")


def test_service_signatures_verify_with_the_public_key() -> None:
    from joserfc import jws
    from joserfc.jwk import OKPKey

    key = SigningKey.from_seed(bytes(range(32)))
    compact = sign_service(b'{"record":"f1"}', key, "nrm-receipt+jwt")
    verified = jws.deserialize_compact(compact, OKPKey.import_key(key.public_jwk()), algorithms=["Ed25519"])
    assert verified.payload == b'{"record":"f1"}'
    detached = sign_service(b"{}", key, RESPONSE_TYPE, detached=True)
    assert detached.split(".")[1] == ""


@settings(max_examples=50)
@given(st.dictionaries(st.text(max_size=10), st.text(max_size=20) | st.integers(-1000, 1000), max_size=6))
def test_any_body_signed_canonically_verifies_and_any_change_does_not(document: dict[str, Any]) -> None:
    payload = canonical(document)
    signature = sign_detached(payload, AGENCY_KEY, "POST", PATH)
    verify_detached(signature, payload, _resolve, "POST", PATH)
    with pytest.raises(TokenError):
        verify_detached(signature, payload + b" ", _resolve, "POST", PATH)
