"""Exports encrypted to a recipient's public key: one compact JWE, ``alg`` ECDH-ES, ``enc`` A256GCM (joserfc).

The recipient is a public EC P-256 or OKP X25519 JWK; a private key (one with ``d``) is refused, so
nobody hands the service a secret by mistake, and so is every other key type, naming what it is.
ECDH-ES derives the content key from an ephemeral key the JWE header carries: only the holder of
the recipient's private key opens it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey

from .errors import KeyFormatError, TokenError

ALGORITHM, ENCRYPTION = "ECDH-ES", "A256GCM"
#: The ``cty`` of what an export encrypts: its format.
CONTENT_TYPES = {"json": "application/json", "csv": "text/csv"}
_ACCEPTED = "a public EC P-256 (kty EC, crv P-256) or OKP X25519 (kty OKP, crv X25519) JWK"


def _imported(key: Any, *, private: bool) -> ECKey | OKPKey:
    if not isinstance(key, Mapping):
        raise KeyFormatError(f"the recipient key must be a JSON object: {_ACCEPTED}")
    if "d" in key and not private:
        raise KeyFormatError("this is a private key: give the recipient's public key (drop the 'd' member)")
    if private and "d" not in key:
        raise KeyFormatError("this is a public key: decrypting needs the recipient's private key")
    kty, crv = key.get("kty"), key.get("crv")
    # a key marked for signing, or for another algorithm, is not a recipient's key (no key reuse across uses)
    if key.get("use", "enc") != "enc" or key.get("alg", ALGORITHM) != ALGORITHM:
        raise KeyFormatError(f"the key is not marked for {ALGORITHM} encryption: give a key whose 'use' is "
                             f"'enc' (or absent) and 'alg' {ALGORITHM} (or absent)")
    try:
        if kty == "EC" and crv == "P-256":
            return ECKey.import_key(dict(key))
        if kty == "OKP" and crv == "X25519":
            return OKPKey.import_key(dict(key))
    except (JoseError, ValueError, TypeError):
        raise KeyFormatError(f"the key is not a valid {kty} {crv} key") from None
    raise KeyFormatError(f"only {_ACCEPTED} is accepted, not kty={kty!r} crv={crv!r}")


def recipient_key(key: Any) -> dict[str, str]:
    """A recipient's public JWK, checked: P-256 or X25519, never a private key, and one ECDH-ES works with.

    A trial encryption catches what importing does not: an X25519 point of small order (the shared
    secret would be all zeros), which cryptography refuses only when the key is used, and ``key_ops``
    that do not allow deriving a key. What it returns is the key itself: kty, crv, x, y and kid.
    """
    imported = _imported(key, private=False)
    try:
        jwe.encrypt_compact({"alg": ALGORITHM, "enc": ENCRYPTION}, b"", imported)
    except (JoseError, ValueError, TypeError):
        raise KeyFormatError(f"the key is not a usable {ALGORITHM} recipient key (its key_ops, or a point of "
                             "small order)") from None
    return {name: str(value) for name, value in imported.as_dict(private=False).items()
            if name in ("kty", "crv", "x", "y", "kid")}


def encrypt(plaintext: bytes, recipient: Mapping[str, str], content_type: str) -> str:
    """``plaintext`` as one compact JWE to ``recipient`` (checked with ``recipient_key`` first)."""
    header = {"alg": ALGORITHM, "enc": ENCRYPTION, "cty": content_type}
    if "kid" in recipient:
        header["kid"] = str(recipient["kid"])
    return jwe.encrypt_compact(header, plaintext, _imported(recipient, private=False))


def decrypt(compact: str, private: Any) -> tuple[dict[str, Any], bytes]:
    """The protected header and plaintext of a JWE made by ``encrypt``; ``TokenError`` for any other."""
    key = _imported(private, private=True)
    try:
        token = jwe.decrypt_compact(compact.strip(), key, algorithms=[ALGORITHM, ENCRYPTION])
    except (JoseError, ValueError, TypeError):
        raise TokenError("undecryptable", "the file does not open with this key (another recipient's key, "
                                          "or not an export)") from None
    header = dict(token.protected)
    if header.get("alg") != ALGORITHM or header.get("enc") != ENCRYPTION:  # pragma: no cover - algorithms= above
        raise TokenError("unexpected_algorithm", f"only {ALGORITHM} with {ENCRYPTION} is accepted")
    if token.plaintext is None:  # pragma: no cover - a decrypted token has its plaintext
        raise TokenError("undecryptable", "the file holds no content")
    return header, bytes(token.plaintext)
