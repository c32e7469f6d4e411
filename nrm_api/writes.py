"""What every signed write shares: the canonical body its signature covers, and the service's receipt."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .crypto.canonical import NotCanonicalizable, canonical, sha256_hex
from .crypto.jws import RECEIPT_TYPE, sign_service
from .errors import NotCanonical
from .extensions import keyring


def canonical_body(raw: Any) -> bytes:
    """The canonical bytes a write's signature covers; 400 when the body has none."""
    try:
        return canonical(raw)
    except NotCanonicalizable:
        raise NotCanonical("numbers must be I-JSON: integers within ±2^53, finite") from None


def receipt(record: str, version: int, payload: bytes, event: str) -> str:
    """The service's signed receipt of an accepted write; ``event`` is the SHA-256 of its audit event's bytes.

    No log position: it is given only after the commit, by the sequencer. An auditor finds it with
    ``GET /audit/events/by-hash/{event}`` and proves it with ``/audit/events/{position}/proof``.
    """
    claims = {"record": record, "version": version, "sha256": sha256_hex(payload), "event": event,
              "iat": int(datetime.now(UTC).timestamp())}
    return sign_service(canonical(claims), keyring().signing_key, RECEIPT_TYPE)
