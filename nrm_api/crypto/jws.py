"""Detached JWS (RFC 7515 appendix F) over RFC 8785 canonical JSON, and the service's own JWS.

Agencies sign every write: ``X-JWS-Signature: <header>..<signature>`` over the canonical form of
the body, protected header ``{"alg": "Ed25519", "kid", "typ": "nrm+jws", "iat", "htm", "htu", "jti"}``.
The policy is strict and checked before any key is chosen: Ed25519 only, no ``crit``/``jku``/``x5u``/
``x5c``/``jwk``, the right ``typ``, ``iat`` within five minutes, ``htm``/``htu`` naming the request's
method and path (so a signature changes the record it names, nothing else), a ``jti`` (the caller
remembers it against reuse), a ``kid`` the caller may sign with.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from .canonical import loads_strict
from .errors import TokenError
from .jose import _REGISTRY, ALGORITHMS, MAX_HEADER_LENGTH, WRITE_TYPE, check_header
from .keyfile import b64u
from .keyring import SigningKey

#: What the spec says of every ``receipt`` (one text for forms and referrals).
RECEIPT_DESCRIPTION = (
    "Compact JWS (a JWT) by the service key, protected header {alg: Ed25519, kid, typ: nrm-receipt+jwt}; "
    "payload {record, version, sha256, event, iat}: `sha256` is the lowercase hex SHA-256 of the RFC 8785 "
    "canonical request body (what you signed), `event` the SHA-256 (hex) of the audit event's bytes. "
    "Verify with the key of /.well-known/jwks.json named by kid.")
MAX_SKEW_SECONDS = 300
MAX_JTI_LENGTH = 64
KeyResolver = Callable[[str], Mapping[str, str] | None]


def detached_header(value: str | None) -> dict[str, Any]:
    """Read and police the protected header of a detached JWS."""
    if not value:
        raise TokenError("missing_signature", "X-JWS-Signature is required on this request")
    parts = value.split(".")
    if len(parts) != 3 or parts[1] != "" or not parts[0] or not parts[2]:
        raise TokenError("malformed_signature", "X-JWS-Signature must be a detached compact JWS: header..signature")
    if len(parts[0]) > MAX_HEADER_LENGTH:
        raise TokenError("header_too_large", "the protected header is too large")
    try:
        header = loads_strict(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise TokenError("malformed_signature", "the protected header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise TokenError("malformed_signature", "the protected header is not a JSON object")
    return check_header(header)


def verify_detached(
    value: str | None, payload: bytes, resolve: KeyResolver, method: str, path: str, now: float | None = None
) -> dict[str, Any]:
    """Verify a detached JWS over ``payload`` for the request ``method path``; return its header."""
    header = detached_header(value)
    if header.get("typ") != WRITE_TYPE:
        raise TokenError("wrong_type", f"the signature's typ must be {WRITE_TYPE}")
    _check_iat(header, time.time() if now is None else now)
    check_binding(header, method, path)
    return _check_signature(value, header, payload, resolve)


def verify_stored(value: str | None, payload: bytes, resolve: KeyResolver) -> dict[str, Any]:
    """Verify a stored write signature (its freshness and binding were checked when it was accepted)."""
    header = detached_header(value)
    if header.get("typ") != WRITE_TYPE:
        raise TokenError("wrong_type", f"the signature's typ must be {WRITE_TYPE}")
    return _check_signature(value, header, payload, resolve)


def _check_signature(value: str | None, header: dict[str, Any], payload: bytes, resolve: KeyResolver
                     ) -> dict[str, Any]:
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("missing_kid", "the protected header needs kid")
    jwk = resolve(kid)
    if jwk is None:
        raise TokenError("unknown_kid", "no key of your agency has this kid")
    head, _, signature = str(value).split(".")
    compact = f"{head}.{b64u(payload)}.{signature}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc warns that "EdDSA" is the old name
            jws.deserialize_compact(compact, OKPKey.import_key(dict(jwk)), algorithms=[header["alg"]],
                                    registry=_REGISTRY)
    except JoseError:
        raise TokenError("bad_signature", "the signature does not verify over the canonical body") from None
    return header


def _check_iat(header: Mapping[str, Any], moment: float) -> None:
    iat = header.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise TokenError("missing_iat", "the protected header needs iat (seconds)")
    if abs(moment - iat) > MAX_SKEW_SECONDS:
        raise TokenError("stale_iat", "the signature's iat is more than 5 minutes from now")


def check_binding(header: Mapping[str, Any], method: str, path: str) -> None:
    """Refuse a header not bound to this request: ``htm``, ``htu`` (path, no query) and a ``jti`` (v1.1)."""
    if header.get("htm") != method:
        raise TokenError("htm_mismatch", f"the protected header's htm must be this request's method, {method}")
    if header.get("htu") != path:
        raise TokenError("htu_mismatch", f"the protected header's htu must be this request's path, {path}")
    jti = header.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise TokenError("missing_jti", f"the protected header needs jti, a unique string of at most "
                         f"{MAX_JTI_LENGTH} characters")


def sign_detached(payload: bytes, private_jwk: Mapping[str, str], method: str, path: str, iat: int | None = None,
                  alg: str = "Ed25519", jti: str | None = None) -> str:
    """Sign ``payload`` for request ``method path`` as a detached JWS (the agency's side: the SDK and tests)."""
    header = {"alg": alg, "kid": private_jwk["kid"], "typ": WRITE_TYPE, "iat": int(time.time()) if iat is None else iat,
              "htm": method, "htu": path.split("?", 1)[0], "jti": jti or str(uuid.uuid4())}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compact = jws.serialize_compact(header, payload, OKPKey.import_key(dict(private_jwk)),
                                        algorithms=list(ALGORITHMS), registry=_REGISTRY)
    head, _, signature = compact.split(".")
    return f"{head}..{signature}"


def sign_service(payload: bytes, key: SigningKey, typ: str, detached: bool = False) -> str:
    """The service's JWS (receipts, responses): compact, or detached for a body sent beside it."""
    header = {"alg": "Ed25519", "kid": key.kid, "typ": typ}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compact = jws.serialize_compact(header, payload, OKPKey.import_key(key.private_jwk()),
                                        algorithms=list(ALGORITHMS), registry=_REGISTRY)
    if not detached:
        return compact
    head, _, signature = compact.split(".")
    return f"{head}..{signature}"


def verify_detached_by_service(value: str | None, payload: bytes, keys: list[dict[str, str]]) -> bool:
    """Whether a detached JWS over ``payload`` is by one of the service's published keys."""
    try:
        header = detached_header(value)
    except TokenError:
        return False
    head, _, signature = str(value).split(".")
    for jwk in keys:
        if jwk.get("kid") != header.get("kid"):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                jws.deserialize_compact(f"{head}.{b64u(payload)}.{signature}", OKPKey.import_key(dict(jwk)),
                                        algorithms=[header["alg"]], registry=_REGISTRY)
            return True
        except JoseError:
            return False
    return False
