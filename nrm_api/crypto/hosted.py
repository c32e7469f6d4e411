"""Hosted signing keys: the Ed25519 keys the service holds for agencies, to sign their users' browser writes.

A person at the web form has no key of their own; their agency's hosted key signs for them, with
a protected header naming the user (``nrm_user``). The private halves live in the keyring — the
key file (``hosted`` entries) or, with a PKCS#11 keyring, the token, where they are generated,
never extractable, and sign inside it (CKM_EDDSA). Only the public JWK leaves this package.

A hosted key's ``kid`` is ``hosted:<agency>:<RFC 7638 thumbprint>``: whoever reads a stored
signature or a ``signed_kid`` sees that it is a hosted key, and whose.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .errors import KeyringError
from .jose import WRITE_TYPE
from .keyfile import KeyFile, b64u, unb64u
from .okp import public_x, seed_of, thumbprint

PREFIX = "hosted:"
#: The protected header member that names the person a hosted key signed for (``user:NAME``).
USER_HEADER = "nrm_user"


def hosted_kid(agency: str, x: str) -> str:
    """The ``kid`` of agency ``agency``'s hosted key whose public ``x`` is given."""
    return f"{PREFIX}{agency}:{thumbprint(x)}"


def is_hosted_kid(kid: object) -> bool:
    """Whether ``kid`` names a hosted key (no agency system may register such a kid)."""
    return isinstance(kid, str) and kid.startswith(PREFIX)


def public_jwk(kid: str, x: str) -> dict[str, str]:
    """The public JWK registered for a hosted key, as an agency system's key is."""
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid}


class HostedKeys(Protocol):
    """Where hosted private keys live: the keyring file or a PKCS#11 token."""

    def create(self, agency: str) -> dict[str, str]:
        """Generate a new key for ``agency``; return its public JWK (with ``kid``)."""

    def sign(self, kid: str, message: bytes) -> bytes:
        """Sign ``message`` with the private key ``kid``; ``KeyringError`` if it is not held."""

    def held(self, agency: str) -> list[str]:
        """The kids of ``agency``'s private keys held here."""

    def destroy(self, kid: str) -> None:
        """Destroy the private key ``kid`` for good (its public JWK stays registered)."""


class LocalHostedKeys:
    """Hosted keys in the keyring file: ``"hosted": [{"kid", "agency", "seed", "created_at"}]``."""

    def __init__(self, file: KeyFile[Any]) -> None:
        self.file = file

    def _entries(self) -> list[dict[str, str]]:
        entries: list[dict[str, str]] = self.file.current().data.get("hosted", [])
        return entries

    def create(self, agency: str) -> dict[str, str]:
        """Generate the key in this process and add it to the file, under the writers' lock."""
        private = Ed25519PrivateKey.generate()
        x = public_x(private)
        kid = hosted_kid(agency, x)
        entry = {"kid": kid, "agency": agency, "seed": seed_of(private),
                 "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
        self.file.update(lambda data: data.setdefault("hosted", []).append(entry))
        return public_jwk(kid, x)

    def sign(self, kid: str, message: bytes) -> bytes:
        """Sign with the seed the file holds for ``kid``."""
        for entry in self._entries():
            if entry["kid"] == kid:
                return Ed25519PrivateKey.from_private_bytes(unb64u(entry["seed"])).sign(message)
        raise KeyringError(f"the keyring holds no private key {kid!r} (retired?)")

    def held(self, agency: str) -> list[str]:
        """Kids of the agency's keys in the file, oldest first."""
        return [entry["kid"] for entry in self._entries() if entry["agency"] == agency]

    def destroy(self, kid: str) -> None:
        """Remove the key from the file."""
        def remove(data: dict[str, Any]) -> None:
            data["hosted"] = [entry for entry in data.get("hosted", []) if entry["kid"] != kid]

        self.file.update(remove)


def sign_detached_hosted(keys: HostedKeys, kid: str, payload: bytes, method: str, path: str, user: str) -> str:
    """A detached JWS over ``payload`` for ``method path``, by hosted key ``kid``, naming ``user``.

    The same protected header an agency system sends (``alg``, ``kid``, ``typ``, ``iat``, ``htm``,
    ``htu``, ``jti``) plus ``nrm_user``; the signing input is RFC 7515's, so any JWS library verifies it.
    """
    header = {"alg": "Ed25519", "kid": kid, "typ": WRITE_TYPE, "iat": int(time.time()), "htm": method,
              "htu": path.split("?", 1)[0], "jti": str(uuid.uuid4()), USER_HEADER: user}
    head = b64u(json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    signature = keys.sign(kid, f"{head}.{b64u(payload)}".encode("ascii"))
    return f"{head}..{b64u(signature)}"
