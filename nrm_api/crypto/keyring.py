"""The local keyring: the service's own keys, in one JSON file readable only by its owner.

It holds versioned Ed25519 keys for access tokens and for the service's signatures (receipts,
checkpoints), a key for sealing small secrets (TOTP seeds), versioned key-encryption keys and the
agencies' hosted signing keys (both unless a PKCS#11 token holds them) and the blind-index key.
Keys are identified by their RFC 7638 thumbprint.
The file is refused if others may open it, and read again whenever it changes (``keyfile``).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import CryptoError, KeyringError
from .keks import KekProvider, LocalKeks
from .keyfile import KeyFile, b64u, unb64u
from .okp import public_x, seed_of, thumbprint

if TYPE_CHECKING:
    from .hosted import HostedKeys

FORMAT = "nrm-keyring/1"


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
        return {**self.public_jwk(), "d": seed_of(self.private)}

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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _new_signing_entry() -> dict[str, str]:
    return {"seed": seed_of(Ed25519PrivateKey.generate()), "created_at": _now()}


@dataclass(frozen=True)
class _Keys:
    """What the keyring file's JSON holds, decoded once per version of the file."""

    token_keys: list[SigningKey]
    signing_keys: list[SigningKey]
    seal_key: bytes
    blind_index_key: bytes


def _parse(data: dict[str, Any], path: Path) -> _Keys:
    if data.get("format") != FORMAT:
        raise KeyringError(f"{path} is not an nrm keyring ({FORMAT})")
    try:
        return _Keys([SigningKey.from_seed(unb64u(e["seed"])) for e in data["token"]],
                     [SigningKey.from_seed(unb64u(e["seed"])) for e in data["signing"]],
                     unb64u(data["seal"]), unb64u(data["blind_index"]))
    except (KeyError, TypeError, ValueError) as error:
        raise KeyringError(f"{path} is damaged: {type(error).__name__}") from None


class Keyring:
    """The service's keys: a local keyring file, its KEKs in the file or in a PKCS#11 token.

    The file is read again whenever it changes (see ``keyfile``), and a token is asked for its KEK
    versions on each use: a rotation made by another process is seen without a restart.
    """

    def __init__(self, path: str | Path, keks: KekProvider | None = None, hosted: HostedKeys | None = None) -> None:
        from .hosted import LocalHostedKeys

        self.file = KeyFile(Path(path), _parse)
        self.path = self.file.path
        self.keks: KekProvider = keks or LocalKeks(self.file)
        #: The agencies' hosted signing keys (``crypto.hosted``): in the file, or in the token with PKCS#11.
        self.hosted: HostedKeys = hosted or LocalHostedKeys(self.file)

    @classmethod
    def create(cls, location: str | Path) -> Keyring:
        """Write a new keyring where ``location`` points, refusing to replace one.

        With a ``pkcs11:`` URI, the first KEK is generated inside the token and the other keys
        go to the URI's key file.
        """
        if str(location).startswith("pkcs11:"):
            from .pkcs11 import Pkcs11HostedKeys, Pkcs11Keks, Pkcs11Uri

            uri = Pkcs11Uri.parse(str(location))
            keks = Pkcs11Keks(uri)
            if keks.versions:
                raise KeyringError(f"the token {uri.token!r} holds KEKs already; refusing to add a keyring to it")
            cls._create_file(uri.keyfile, local_kek=False)
            keks.create(1)
            return cls(uri.keyfile, keks, Pkcs11HostedKeys(keks))
        return cls(cls._create_file(location, local_kek=True))

    @classmethod
    def _create_file(cls, path: str | Path, local_kek: bool) -> Path:
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
        return target

    @classmethod
    def load(cls, location: str | Path) -> Keyring:
        """Open the keyring named by ``NRM_KEYRING``: a file, or a ``pkcs11:`` URI and its key file."""
        if str(location).startswith("pkcs11:"):
            from .pkcs11 import Pkcs11HostedKeys, Pkcs11Keks, Pkcs11Uri

            uri = Pkcs11Uri.parse(str(location))
            keks = Pkcs11Keks(uri)
            return cls(uri.keyfile, keks, Pkcs11HostedKeys(keks))
        return cls(location)

    @property
    def _keys(self) -> _Keys:
        return self.file.current().value

    @property
    def token_keys(self) -> list[SigningKey]:
        """Access-token keys, oldest first."""
        return self._keys.token_keys

    @property
    def signing_keys(self) -> list[SigningKey]:
        """Keys of the service's own signatures, oldest first."""
        return self._keys.signing_keys

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
        return self._keys.blind_index_key

    # --- small secrets -----------------------------------------------------------------------

    def seal(self, plaintext: bytes, context: str) -> bytes:
        """Encrypt a small secret (AES-256-GCM) bound to ``context``."""
        nonce = secrets.token_bytes(12)
        return nonce + AESGCM(self._keys.seal_key).encrypt(nonce, plaintext, context.encode("utf-8"))

    def unseal(self, sealed: bytes, context: str) -> bytes:
        """Decrypt what ``seal`` made for the same ``context``."""
        try:
            return AESGCM(self._keys.seal_key).decrypt(sealed[:12], sealed[12:], context.encode("utf-8"))
        except InvalidTag:
            raise CryptoError("sealed value does not open in this context") from None
