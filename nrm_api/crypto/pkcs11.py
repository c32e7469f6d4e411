"""Key-encryption keys in an HSM, through PKCS#11 (python-pkcs11; SoftHSM2 in the tests).

``NRM_KEYRING=pkcs11:token=<label>?module-path=<lib>&pin-source=env:<VAR>&x-keyfile=<path>`` (RFC 7512
with one vendor attribute): the KEKs are AES-256 keys generated inside the token, non-extractable,
labelled ``nrm-kek-v<N>``; data keys are wrapped and unwrapped by AES-GCM inside the token, bound to
their record by the associated data. The agencies' hosted signing keys are Ed25519 key pairs
generated inside the token too (CKM_EC_EDWARDS_KEY_PAIR_GEN), labelled by their ``kid``, the private
half sensitive and never extractable, signing inside the token (CKM_EDDSA). The service's own Ed25519
keys, the blind-index and sealing keys stay in the key file ``x-keyfile`` names.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import pkcs11
from pkcs11 import Attribute, GCMParams, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import PKCS11Error
from pkcs11.util.ec import encode_named_curve_parameters

from .errors import CryptoError, KeyringError
from .hosted import PREFIX, hosted_kid, public_jwk
from .keyfile import b64u

LABEL = re.compile(r"^nrm-kek-v(\d+)$")
#: RFC 8410's object identifier of Ed25519, as CKA_EC_PARAMS names the curve.
ED25519_OID = "1.3.101.112"


@dataclass(frozen=True)
class Pkcs11Uri:
    """What a ``pkcs11:`` URI names."""

    token: str
    module: str
    pin: str
    keyfile: str

    @classmethod
    def parse(cls, uri: str) -> Pkcs11Uri:
        """Parse a URI; the PIN comes from the environment variable ``pin-source=env:VAR`` names."""
        if not uri.startswith("pkcs11:"):
            raise KeyringError("not a pkcs11: URI")
        path, _, query = uri[len("pkcs11:"):].partition("?")
        attributes = dict(part.split("=", 1) for part in path.split(";") if "=" in part)
        options = {key: values[-1] for key, values in parse_qs(query).items()}
        source = options.get("pin-source", "")
        pin = os.environ.get(source[4:], "") if source.startswith("env:") else options.get("pin-value", "")
        missing = [name for name, value in (("token", attributes.get("token")), ("module-path", options.get(
            "module-path")), ("a PIN (pin-source=env:VAR)", pin), ("x-keyfile", options.get("x-keyfile")))
                   if not value]
        if missing:
            raise KeyringError(f"the pkcs11: URI needs {', '.join(missing)}")
        return cls(unquote(attributes["token"]), options["module-path"], pin, options["x-keyfile"])


class Pkcs11Keks:
    """KEK versions held in a PKCS#11 token."""

    def __init__(self, uri: Pkcs11Uri) -> None:
        self.uri = uri
        self._lock = threading.Lock()
        try:
            self._token = pkcs11.lib(uri.module).get_token(token_label=uri.token)
        except (PKCS11Error, RuntimeError, OSError) as error:
            raise KeyringError(f"cannot open PKCS#11 token {uri.token!r}: {type(error).__name__}") from None

    @contextmanager
    def opened(self, rw: bool = False) -> Iterator[Any]:
        """A logged-in session of the token, one at a time in this process."""
        with self._lock, self._session(rw) as session:
            yield session

    def _session(self, rw: bool = False) -> Any:
        try:
            return self._token.open(user_pin=self.uri.pin, rw=rw)
        except PKCS11Error as error:
            raise KeyringError(f"cannot log in to PKCS#11 token {self.uri.token!r}: {type(error).__name__}") from None

    @property
    def versions(self) -> list[int]:
        """KEK versions present in the token, oldest first."""
        with self._lock, self._session() as session:
            labels = [obj[Attribute.LABEL] for obj in session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY})]
        return sorted(int(match.group(1)) for label in labels if (match := LABEL.fullmatch(label)))

    def create(self, version: int) -> None:
        """Generate KEK ``version`` inside the token: never extractable, never seen by this process."""
        with self._lock, self._session(rw=True) as session:
            session.generate_key(KeyType.AES, 256, label=f"nrm-kek-v{version}", store=True,
                                 template={Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True,
                                           Attribute.ENCRYPT: True, Attribute.DECRYPT: True})

    def _key(self, session: Any, version: int) -> Any:
        try:
            return session.get_key(label=f"nrm-kek-v{version}", key_type=KeyType.AES,
                                   object_class=ObjectClass.SECRET_KEY)
        except PKCS11Error:
            raise KeyringError(f"KEK version {version} is not in the token (retired?)") from None

    def wrap(self, version: int, dek: bytes, aad: bytes) -> bytes:
        """AES-GCM-encrypt a data key inside the token."""
        nonce = secrets.token_bytes(12)
        with self._lock, self._session() as session:
            sealed = self._key(session, version).encrypt(dek, mechanism=Mechanism.AES_GCM,
                                                         mechanism_param=GCMParams(nonce, aad, 128))
        return nonce + bytes(sealed)

    def unwrap(self, version: int, wrapped: bytes, aad: bytes) -> bytes:
        """Decrypt a data key inside the token; fails unless ``aad`` is the one it was wrapped with."""
        with self._lock, self._session() as session:
            key = self._key(session, version)
            try:
                return bytes(key.decrypt(wrapped[12:], mechanism=Mechanism.AES_GCM,
                                         mechanism_param=GCMParams(wrapped[:12], aad, 128)))
            except PKCS11Error:
                raise CryptoError("the data key does not unwrap for this record") from None

    def destroy(self, version: int) -> None:
        """Delete KEK ``version`` from the token."""
        with self._lock, self._session(rw=True) as session:
            self._key(session, version).destroy()


class Pkcs11HostedKeys:
    """Hosted signing keys as Ed25519 key pairs inside the token: generated, kept and used there."""

    def __init__(self, keks: Pkcs11Keks) -> None:
        self.keks = keks

    def create(self, agency: str) -> dict[str, str]:
        """Generate the pair in the token, then label both halves with the kid its public key gives."""
        pending = f"nrm-hosted-pending-{secrets.token_hex(8)}"
        with self.keks.opened(rw=True) as session:
            params = session.create_domain_parameters(
                KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: encode_named_curve_parameters(ED25519_OID)}, local=True)
            public, private = params.generate_keypair(
                mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN, store=True, label=pending,
                private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True})
            x = b64u(_raw_point(bytes(public[Attribute.EC_POINT])))
            kid = hosted_kid(agency, x)
            public[Attribute.LABEL] = kid
            private[Attribute.LABEL] = kid
        return public_jwk(kid, x)

    def sign(self, kid: str, message: bytes) -> bytes:
        """Sign inside the token with CKM_EDDSA (pure Ed25519, RFC 8032)."""
        with self.keks.opened() as session:
            try:
                key = session.get_key(label=kid, object_class=ObjectClass.PRIVATE_KEY)
            except PKCS11Error:
                raise KeyringError(f"the token holds no private key {kid!r} (retired?)") from None
            return bytes(key.sign(message, mechanism=Mechanism.EDDSA))

    def held(self, agency: str) -> list[str]:
        """Kids of the agency's private keys in the token."""
        with self.keks.opened() as session:
            labels = [key[Attribute.LABEL] for key in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})]
        return sorted(label for label in labels if label.startswith(f"{PREFIX}{agency}:"))

    def destroy(self, kid: str) -> None:
        """Destroy both halves in the token (the public JWK stays registered in the database)."""
        with self.keks.opened(rw=True) as session:
            for found in list(session.get_objects({Attribute.LABEL: kid})):
                found.destroy()


def _raw_point(point: bytes) -> bytes:
    """The 32 bytes of an Ed25519 CKA_EC_POINT, which tokens give DER-wrapped (an OCTET STRING) or raw."""
    if len(point) == 34 and point[:2] == b"\x04\x20":
        return point[2:]
    if len(point) == 32:
        return point
    raise KeyringError("the token gave an Ed25519 public key of an unexpected form")
