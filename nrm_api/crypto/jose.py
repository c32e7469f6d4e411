"""JWS and JWK handling with joserfc, under one strict policy.

Only Ed25519 signatures are accepted (``alg`` ``Ed25519``, or ``EdDSA`` with an Ed25519 key);
``none``, HMAC and every other algorithm are refused before any key is touched, and so are
``crit``, ``jku``, ``x5u``, ``x5c`` and ``jwk`` headers, which would let a token choose its own
key or rules.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

from .canonical import loads_strict
from .errors import KeyFormatError, TokenError
from .okp import thumbprint

ALGORITHMS = ("Ed25519", "EdDSA")
#: The ``typ`` of what the service's parties sign: a write (detached), a receipt, an answer (detached).
WRITE_TYPE = "nrm+jws"
RECEIPT_TYPE = "nrm-receipt+jwt"
RESPONSE_TYPE = "nrm-response+jws"
FORBIDDEN_HEADERS = ("crit", "jku", "x5u", "x5c", "jwk")
MAX_COMPACT_LENGTH = 8192
MAX_HEADER_LENGTH = 1024
_REGISTRY = JWSRegistry(algorithms=list(ALGORITHMS), strict_check_header=False)


def parse_public_jwks(document: Any) -> list[dict[str, str]]:
    """Return the Ed25519 public keys of a JWK or JWK Set, each with a ``kid``.

    Refuses private keys, other key types and curves, and malformed keys, naming which.
    """
    keys = document.get("keys") if isinstance(document, Mapping) and "keys" in document else [document]
    if not isinstance(keys, list) or not keys:
        raise KeyFormatError("expected a JWK or a JWK Set with at least one key")
    return [parse_public_jwk(key) for key in keys]


def parse_public_jwk(key: Any) -> dict[str, str]:
    """Validate one Ed25519 public JWK and return it normalised, with its ``kid``."""
    if not isinstance(key, Mapping):
        raise KeyFormatError("a JWK must be a JSON object")
    if "d" in key:
        raise KeyFormatError("this is a private key: register only the public key (drop the 'd' member)")
    if key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
        raise KeyFormatError(
            f"only Ed25519 keys (kty OKP, crv Ed25519) are accepted, not kty={key.get('kty')!r} crv={key.get('crv')!r}"
        )
    x = key.get("x")
    if not isinstance(x, str):
        raise KeyFormatError("the key has no 'x' member")
    try:
        OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x})
    except (JoseError, ValueError, TypeError):
        raise KeyFormatError("the key's 'x' is not a valid Ed25519 public key") from None
    kid = key.get("kid") or thumbprint(x)
    if not isinstance(kid, str) or not 0 < len(kid) <= 200:
        raise KeyFormatError("'kid' must be a string of at most 200 characters")
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid}


def unverified_header(compact: str) -> dict[str, Any]:
    """Read and police the protected header of a compact JWS, before any key is chosen."""
    if not isinstance(compact, str) or len(compact) > MAX_COMPACT_LENGTH:
        raise TokenError("malformed", "the token is missing or too long")
    parts = compact.split(".")
    if len(parts) != 3:
        raise TokenError("malformed", "not a compact JWS (a JWE or another format was given)")
    if len(parts[0]) > MAX_HEADER_LENGTH:
        raise TokenError("header_too_large", "the protected header is too large")
    try:
        header = jws.extract_compact(compact.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError):
        raise TokenError("malformed", "the token cannot be parsed") from None
    return check_header(header)


def check_header(header: Mapping[str, Any]) -> dict[str, Any]:
    """Apply the algorithm allow-list and refuse headers that pick keys or rules."""
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise TokenError("unsupported_algorithm", f"algorithm {alg!r} is not accepted; use Ed25519")
    for name in FORBIDDEN_HEADERS:
        if name in header:
            raise TokenError("forbidden_header", f"the '{name}' header is not accepted")
    return dict(header)


def verify_jwt(compact: str, candidates: Iterable[Mapping[str, str]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a compact JWT with whichever candidate public JWK signed it; return header and claims."""
    header = unverified_header(compact)
    for candidate in candidates:
        key = OKPKey.import_key(dict(candidate))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # joserfc warns that "EdDSA" is the old name
                token = jws.deserialize_compact(compact, key, algorithms=[header["alg"]], registry=_REGISTRY)
        except JoseError:
            continue
        try:
            claims = loads_strict(token.payload or b"")
        except (ValueError, UnicodeDecodeError):  # NaN, Infinity, duplicates: no claim may be ambiguous
            raise TokenError("malformed", "the token's payload is not strict JSON") from None
        if not isinstance(claims, dict):
            raise TokenError("malformed", "the token's payload is not a JSON object")
        return header, claims
    raise TokenError("bad_signature", "the signature does not verify with a registered key")


def sign_jwt(claims: Mapping[str, Any], private_jwk: Mapping[str, str], header: Mapping[str, Any]) -> str:
    """Sign claims as a compact JWT with an Ed25519 private JWK (used by the client SDK and tests)."""
    key = OKPKey.import_key(dict(private_jwk))
    payload = json.dumps(dict(claims), separators=(",", ":")).encode("utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jws.serialize_compact(dict(header), payload, key, algorithms=list(ALGORITHMS), registry=_REGISTRY)


def generate_private_jwk(kid: str | None = None) -> dict[str, str]:
    """A new Ed25519 key pair as a private JWK (its public half is the same without ``d``)."""
    key = OKPKey.generate_key("Ed25519")
    data = {k: str(v) for k, v in key.as_dict(private=True).items()}
    data["kid"] = kid or thumbprint(data["x"])
    return data


def public_half(private_jwk: Mapping[str, str]) -> dict[str, str]:
    """The public JWK of a private one."""
    return {k: v for k, v in private_jwk.items() if k != "d"}


def unverified_claims(compact: str) -> dict[str, Any]:
    """The payload of a compact JWS before verification: only to find who claims to sign it."""
    unverified_header(compact)
    try:
        payload = jws.extract_compact(compact.encode("ascii")).payload or b""
        claims = loads_strict(payload)
    except (JoseError, ValueError, UnicodeError):
        raise TokenError("malformed", "the token's payload is not strict JSON") from None
    if not isinstance(claims, dict):
        raise TokenError("malformed", "the token's payload is not a JSON object")
    return claims
