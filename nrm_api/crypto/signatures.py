"""Raw Ed25519 verification by public key, for verifiers that run with no keyring (offline)."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import KeyFormatError
from .keyfile import unb64u


def public_key_bytes(x: str) -> bytes:
    """The 32 raw bytes of an Ed25519 public JWK's ``x``."""
    raw = unb64u(x)
    if len(raw) != 32:
        raise KeyFormatError("an Ed25519 public key is 32 bytes")
    return raw


def verify_ed25519(public: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``public``'s Ed25519 signature of ``message``."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
