"""RFC 8785 canonical JSON (JCS), the one byte form that is hashed and signed."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from .errors import CryptoError


class NotCanonicalizable(CryptoError):
    """The value has no RFC 8785 form: an integer beyond ±2**53, a non-finite number, a lone surrogate."""


def canonical(value: Any) -> bytes:
    """The RFC 8785 canonical bytes of a JSON value."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as error:
        raise NotCanonicalizable(type(error).__name__) from None


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256."""
    return hashlib.sha256(data).hexdigest()
