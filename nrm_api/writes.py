"""What every signed write shares, whichever door carries it.

The request facts its signature is bound to, the canonical body it covers, the service's receipt,
and the result a write hands back for the door to answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .crypto.canonical import NotCanonicalizable, canonical, sha256_hex
from .crypto.jose import RECEIPT_TYPE
from .crypto.jws import sign_service
from .errors import NotCanonical
from .extensions import keyring


@dataclass(frozen=True)
class RequestFacts:
    """What a write's signature is bound to: facts of the API operation it performs, never of a web request.

    ``method`` and ``path`` are the signature's ``htm`` and ``htu``: the method and the path without
    query of the API operation, e.g. ``POST /api/v1/forms`` or ``PUT /api/v1/forms/ID``. The API
    builds them from the request it serves; any other door (the web form, a CLI) names the
    equivalent API operation and signs for it — with the agency's hosted key, for the web form —
    so one signature means one operation whichever door carried it. ``idempotency_key`` is the
    ``Idempotency-Key`` sent with it, if any: a retry of the same request under the same key may
    carry the same signature (``jti``) again, and a write that takes a key replays its first result.
    """

    method: str
    path: str
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Written:
    """What a write did, for the door to answer in its own way (the API: status, ``Location``, ``ETag``, body).

    ``kind`` and ``id`` name the record (``form``, ``referral``, ``transfer``); ``revision`` is its
    revision once written (what ``If-Match`` must name next); ``created`` says the write made the
    record; ``body`` holds the fields the writer is told (its id, status and receipt among them), for
    the door's output schema to dump. A retry under an ``Idempotency-Key`` gets the first result again.
    """

    kind: str
    id: str
    revision: int
    created: bool
    body: Mapping[str, Any]

    @property
    def status(self) -> str:
        """The record's status once written."""
        return str(self.body["status"])

    @property
    def receipt(self) -> str:
        """The service's signed receipt of the write (see ``receipt``)."""
        return str(self.body["receipt"])

    @property
    def resource(self) -> str:
        """The record as the audit log names it, e.g. ``form:ID``."""
        return f"{self.kind}:{self.id}"


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
