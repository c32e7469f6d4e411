"""Envelope encryption: a random data key (DEK) per record, each field sealed under it with AES-256-GCM.

A field's associated data binds its ciphertext to its place — record type, record id, field path,
schema version, owning agency, as one canonical JSON array, so no two places share a byte form —
and a ciphertext moved to another record or field fails to open. DEKs are stored only wrapped by a
key-encryption key (KEK) of the keyring, under associated data naming the record.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .canonical import canonical
from .errors import CryptoError

DEK_BYTES = 32
NONCE_BYTES = 12


class DecryptionError(CryptoError):
    """A ciphertext does not open here: wrong key, wrong place, or altered."""


@dataclass(frozen=True)
class FieldPlace:
    """Where a field's ciphertext belongs."""

    record_type: str
    record_id: str
    path: str
    schema_version: str
    owner: str

    def associated_data(self) -> bytes:
        """The AAD the field is sealed under."""
        return canonical([self.record_type, self.record_id, self.path, self.schema_version, self.owner])


def new_dek() -> bytes:
    """A fresh 256-bit data key."""
    return secrets.token_bytes(DEK_BYTES)


def seal(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """``nonce ‖ AES-256-GCM(key, nonce, plaintext, associated_data)`` with a random 96-bit nonce."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def open_sealed(key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    """Open what ``seal`` made with the same key and associated data."""
    if len(sealed) < NONCE_BYTES + 16:
        raise DecryptionError("ciphertext too short")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated_data)
    except InvalidTag:
        raise DecryptionError("the ciphertext does not open in this place") from None


def seal_field(dek: bytes, value: bytes, place: FieldPlace) -> bytes:
    """Encrypt one field's canonical bytes for its place."""
    return seal(dek, value, place.associated_data())


def open_field(dek: bytes, sealed: bytes, place: FieldPlace) -> bytes:
    """Decrypt one field for its place."""
    return open_sealed(dek, sealed, place.associated_data())
