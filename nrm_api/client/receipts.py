"""Prove a receipt in the audit log with nothing but the service's JWKS.

A receipt names its audit event by the SHA-256 of the event's bytes (``event``). An auditor finds
its position (``GET /audit/events/by-hash/{event}``) and fetches its inclusion proof
(``GET /audit/events/{position}/proof``); ``verify_in_log`` then checks, offline, that the receipt
is the service's, that the proof is of that very event, that the event is in the tree, and that the
tree's root is in a checkpoint the service signed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from ..audit import merkle, notes
from ..crypto import TokenError
from ..crypto.canonical import sha256_hex
from ..crypto.jose import verify_jwt
from ..crypto.signatures import public_key_bytes


class ReceiptProofError(ValueError):
    """The receipt, the event or the proof does not hold."""


def verify_in_log(receipt: str, proof: Mapping[str, Any], jwks: Sequence[Mapping[str, str]]) -> int:
    """Check ``receipt`` against ``proof`` (an ``/audit/events/{position}/proof`` answer); return the position."""
    try:
        _, claims = verify_jwt(receipt, jwks)
        event = base64.b64decode(proof["event"], validate=True)
        path = [base64.b64decode(value, validate=True) for value in proof["proof"]]
        index, note = int(proof["leaf_index"]), str(proof["checkpoint"])
    except TokenError as error:
        raise ReceiptProofError(f"the receipt is not the service's: {error.message}") from None
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise ReceiptProofError("the proof is malformed") from None
    if sha256_hex(event) != claims.get("event"):
        raise ReceiptProofError("the proof is of another event than the receipt names")
    trusted = [public_key_bytes(key["x"]) for key in jwks if key.get("crv") == "Ed25519" and "x" in key]
    try:
        checkpoint = notes.open_checkpoint(note, note.split("\n", 1)[0], trusted)
        merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(event), path, checkpoint.root)
    except (notes.NoteError, merkle.ProofError) as error:
        raise ReceiptProofError(f"the event is not proven in a signed checkpoint: {error}") from None
    return index
