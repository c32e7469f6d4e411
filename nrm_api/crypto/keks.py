"""Where key-encryption keys live: the keyring file itself, or (``pkcs11``) a token."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import CryptoError, KeyringError
from .keyfile import KeyFile, b64u, unb64u


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class LocalKeks:
    """KEK versions kept in the keyring file itself (the default, for development and the demo)."""

    def __init__(self, file: KeyFile[Any]) -> None:
        self.file = file

    @property
    def _entries(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.file.current().data["kek"]
        return entries

    @property
    def versions(self) -> list[int]:
        """Versions in the file, oldest first."""
        return [int(entry["version"]) for entry in self._entries]

    def _key(self, version: int) -> bytes:
        for entry in self._entries:
            if int(entry["version"]) == version:
                return unb64u(entry["key"])
        raise KeyringError(f"KEK version {version} is not in the keyring (retired?)")

    def wrap(self, version: int, dek: bytes, aad: bytes) -> bytes:
        """AES-256-GCM with a random nonce."""
        nonce = secrets.token_bytes(12)
        return nonce + AESGCM(self._key(version)).encrypt(nonce, dek, aad)

    def unwrap(self, version: int, wrapped: bytes, aad: bytes) -> bytes:
        """Open what ``wrap`` made with the same associated data."""
        try:
            return AESGCM(self._key(version)).decrypt(wrapped[:12], wrapped[12:], aad)
        except InvalidTag:
            raise CryptoError("the data key does not unwrap for this record") from None

    def create(self, version: int) -> None:
        """Add a version to the file."""
        def add(data: dict[str, Any]) -> None:
            if any(int(entry["version"]) == version for entry in data["kek"]):
                raise KeyringError(f"KEK version {version} exists already (rotated elsewhere?): run it again")
            data["kek"].append({"version": version, "key": b64u(secrets.token_bytes(32)), "created_at": _now()})

        self.file.update(add)

    def destroy(self, version: int) -> None:
        """Remove a version from the file."""
        def remove(data: dict[str, Any]) -> None:
            data["kek"] = [entry for entry in data["kek"] if int(entry["version"]) != version]

        self.file.update(remove)


class KekProvider(Protocol):
    """Where KEKs live: the keyring file or a PKCS#11 token."""

    @property
    def versions(self) -> list[int]:
        """KEK versions held, oldest first."""

    def wrap(self, version: int, dek: bytes, aad: bytes) -> bytes:
        """Wrap a data key under KEK ``version``, bound to ``aad``."""

    def unwrap(self, version: int, wrapped: bytes, aad: bytes) -> bytes:
        """Unwrap a data key; fails unless ``aad`` matches."""

    def create(self, version: int) -> None:
        """Add KEK ``version``."""

    def destroy(self, version: int) -> None:
        """Remove KEK ``version``."""
