"""Ed25519 keys as JWKs (RFC 8037 OKP): the public ``x``, the private seed, the RFC 7638 thumbprint.

The bottom of ``crypto``: the keyring, the hosted keys and the JOSE checks all name keys this way.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc.jwk import OKPKey

from .keyfile import b64u


def public_x(private: Ed25519PrivateKey) -> str:
    """The ``x`` member of the public JWK of ``private``."""
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return b64u(raw)


def thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 public key."""
    return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x}).thumbprint()


def seed_of(private: Ed25519PrivateKey) -> str:
    """The private seed of ``private`` (the JWK's ``d``), base64url: for the keyring file only."""
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return b64u(raw)
