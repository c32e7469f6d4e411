"""The local keyring: the service's own keys, in one JSON file readable only by its owner.

It holds versioned Ed25519 keys for access tokens and for the service's signatures (receipts,
checkpoints), a key for sealing small secrets (TOTP seeds), and, for later use, versioned
key-encryption keys and the blind-index key. Keys are identified by their RFC 7638 thumbprint.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc.jwk import OKPKey

from .errors import CryptoError, KeyringError

FORMAT = "nrm-keyring/1"


def b64u(data: bytes) -> str:
    """Base64url without padding, as JOSE writes it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 key of the service, named by the thumbprint of its public half."""

    kid: str
    private: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """Rebuild a key from its 32-byte seed."""
        private = Ed25519PrivateKey.from_private_bytes(seed)
        return cls(kid=thumbprint(public_x(private)), private=private)

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK, with ``kid`` and ``use``."""
        return {"kty": "OKP", "crv": "Ed25519", "x": public_x(self.private), "kid": self.kid, "use": "sig"}

    def private_jwk(self) -> dict[str, str | list[str]]:
        """The private key as a JWK (never leaves the crypto package)."""
        return {**self.public_jwk(), "d": _seed(self.private)}

    def private_pem(self) -> bytes:
        """PKCS#8 PEM of the private key, for the token library."""
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def public_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM of the public key, for the token library."""
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes) -> bytes:
        """Sign ``message``."""
        return self.private.sign(message)


def public_x(private: Ed25519PrivateKey) -> str:
    """The ``x`` member of the public JWK of ``private``."""
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return b64u(raw)


def thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 public key."""
    return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x}).thumbprint()


def _seed(private: Ed25519PrivateKey) -> str:
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return b64u(raw)


def read_private_json(path: Path) -> dict[str, Any]:
    """Read a keyring file, refusing one that its group or other users may read or write."""
    try:
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if mode & 0o077:
                raise KeyringError(f"the keyring {path} is open to other users (mode {mode & 0o777:04o}): "
                                   f"run `chmod 600 {path}`, and rotate its keys if others may have read it")
            data = json.loads(handle.read())
    except FileNotFoundError:
        raise KeyringError(f"no keyring at {path}: create one with `nrm-api keys init`") from None
    except (OSError, ValueError) as error:
        raise KeyringError(f"cannot read the keyring at {path}: {type(error).__name__}") from None
    if not isinstance(data, dict):
        raise KeyringError(f"{path} is not an nrm keyring ({FORMAT})")
    return data


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _new_signing_entry() -> dict[str, str]:
    return {"seed": _seed(Ed25519PrivateKey.generate()), "created_at": _now()}


class LocalKeks:
    """KEK versions kept in the keyring file itself (the default, for development and the demo)."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    @property
    def _entries(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.keyring._data["kek"]
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
        """Add a version and save the file."""
        self._entries.append({"version": version, "key": b64u(secrets.token_bytes(32)), "created_at": _now()})
        self.keyring._save()

    def destroy(self, version: int) -> None:
        """Remove a version and save the file."""
        self.keyring._data["kek"] = [entry for entry in self._entries if int(entry["version"]) != version]
        self.keyring._save()


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


class Keyring:
    """The service's keys: a local keyring file, its KEKs in the file or in a PKCS#11 token."""

    def __init__(self, data: dict[str, Any], path: Path, keks: KekProvider | None = None) -> None:
        if data.get("format") != FORMAT:
            raise KeyringError(f"{path} is not an nrm keyring ({FORMAT})")
        self.path = path
        self._data = data
        try:
            self.token_keys = [SigningKey.from_seed(unb64u(e["seed"])) for e in data["token"]]
            self.signing_keys = [SigningKey.from_seed(unb64u(e["seed"])) for e in data["signing"]]
            self._seal_key = unb64u(data["seal"])
        except (KeyError, TypeError, ValueError) as error:
            raise KeyringError(f"{path} is damaged: {type(error).__name__}") from None
        self.keks: KekProvider = keks or LocalKeks(self)

    @classmethod
    def create(cls, location: str | Path) -> Keyring:
        """Write a new keyring where ``location`` points, refusing to replace one.

        With a ``pkcs11:`` URI, the first KEK is generated inside the token and the other keys
        go to the URI's key file.
        """
        if str(location).startswith("pkcs11:"):
            from .pkcs11 import Pkcs11Keks, Pkcs11Uri

            uri = Pkcs11Uri.parse(str(location))
            keks = Pkcs11Keks(uri)
            if keks.versions:
                raise KeyringError(f"the token {uri.token!r} holds KEKs already; refusing to add a keyring to it")
            ring = cls._create_file(uri.keyfile, local_kek=False)
            keks.create(1)
            return cls(ring._data, ring.path, keks)
        return cls._create_file(location, local_kek=True)

    @classmethod
    def _create_file(cls, path: str | Path, local_kek: bool) -> Keyring:
        target = Path(path)
        data = {
            "format": FORMAT,
            "created_at": _now(),
            "token": [_new_signing_entry()],
            "signing": [_new_signing_entry()],
            "seal": b64u(secrets.token_bytes(32)),
            "kek": [{"version": 1, "key": b64u(secrets.token_bytes(32)), "created_at": _now()}] if local_kek else [],
            "blind_index": b64u(secrets.token_bytes(32)),
        }
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyringError(f"a keyring already exists at {target}; refusing to overwrite it") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
        return cls(data, target)

    @classmethod
    def load(cls, location: str | Path) -> Keyring:
        """Open the keyring named by ``NRM_KEYRING``: a file, or a ``pkcs11:`` URI and its key file."""
        if str(location).startswith("pkcs11:"):
            from .pkcs11 import Pkcs11Keks, Pkcs11Uri

            uri = Pkcs11Uri.parse(str(location))
            ring = cls._load_file(uri.keyfile)
            return cls(ring._data, ring.path, Pkcs11Keks(uri))
        return cls._load_file(location)

    @classmethod
    def _load_file(cls, location: str | Path) -> Keyring:
        path = Path(location)
        return cls(read_private_json(path), path)

    @property
    def token_key(self) -> SigningKey:
        """The newest access-token key: it signs, the older ones only verify."""
        return self.token_keys[-1]

    def token_key_by_kid(self, kid: str) -> SigningKey | None:
        """The access-token key named ``kid``, if the keyring holds it."""
        return next((key for key in self.token_keys if key.kid == kid), None)

    @property
    def signing_key(self) -> SigningKey:
        """The newest key for the service's own signatures."""
        return self.signing_keys[-1]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public half of every key the service signs with, old versions included."""
        return {"keys": [key.public_jwk() for key in [*self.signing_keys, *self.token_keys]]}

    # --- key-encryption keys ---------------------------------------------------------------

    @property
    def kek_versions(self) -> list[int]:
        """Every KEK version held, oldest first."""
        return self.keks.versions

    @property
    def current_kek_version(self) -> int:
        """The version new DEKs are wrapped with."""
        versions = self.kek_versions
        if not versions:
            raise KeyringError("the keyring holds no KEK")
        return versions[-1]

    def wrap_dek(self, dek: bytes, context: str) -> tuple[int, bytes]:
        """Wrap a DEK with the current KEK, bound to ``context`` (the record it keys)."""
        version = self.current_kek_version
        return version, self.keks.wrap(version, dek, f"nrm-dek|{version}|{context}".encode())

    def unwrap_dek(self, version: int, wrapped: bytes, context: str) -> bytes:
        """Unwrap a DEK wrapped by KEK ``version`` for ``context``."""
        return self.keks.unwrap(version, wrapped, f"nrm-dek|{version}|{context}".encode())

    def rotate_kek(self) -> int:
        """Add a new KEK version; return it."""
        version = self.current_kek_version + 1
        self.keks.create(version)
        return version

    def retire_kek(self, version: int) -> None:
        """Remove an old KEK version once no DEK is wrapped with it."""
        if version == self.current_kek_version:
            raise KeyringError("the current KEK cannot be retired")
        if version not in self.kek_versions:
            raise KeyringError(f"KEK version {version} is not in the keyring (retired?)")
        self.keks.destroy(version)

    @property
    def blind_index_key(self) -> bytes:
        """The key of blind indexes (used for nothing else)."""
        return unb64u(self._data["blind_index"])

    def _save(self) -> None:
        """Replace the keyring file atomically, readable by its owner only."""
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self._data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    # --- small secrets -----------------------------------------------------------------------

    def seal(self, plaintext: bytes, context: str) -> bytes:
        """Encrypt a small secret (AES-256-GCM) bound to ``context``."""
        nonce = secrets.token_bytes(12)
        return nonce + AESGCM(self._seal_key).encrypt(nonce, plaintext, context.encode("utf-8"))

    def unseal(self, sealed: bytes, context: str) -> bytes:
        """Decrypt what ``seal`` made for the same ``context``."""
        try:
            return AESGCM(self._seal_key).decrypt(sealed[:12], sealed[12:], context.encode("utf-8"))
        except InvalidTag:
            raise CryptoError("sealed value does not open in this context") from None
