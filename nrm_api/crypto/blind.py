"""Blind indexes: keyed hashes of normalised names and dates of birth.

They find possible duplicates without decrypting anything: HMAC-SHA-256 under a key used for
nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

_NOT_LETTERS = re.compile(r"[^\w]+", re.UNICODE)


def normalise_name(name: str) -> str:
    """Fold case, accents, punctuation and spacing: ``Iváňová-Olga`` and ``ivanova olga`` match."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_LETTERS.sub(" ", bare.casefold()).split())


def blind_index(key: bytes, *parts: str) -> str:
    """Hex HMAC-SHA-256 of the normalised parts, joined unambiguously."""
    message = "\x1f".join(normalise_name(part) for part in parts).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()
