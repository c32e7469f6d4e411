"""The PKCS#11 keyring against a real SoftHSM2 token: KEKs generated inside it, never leaving it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from nrm_api import create_app
from nrm_api.crypto import CryptoError
from nrm_api.crypto.envelope import new_dek
from nrm_api.crypto.errors import KeyringError
from nrm_api.crypto.keyring import Keyring
from nrm_api.crypto.pkcs11 import Pkcs11Uri
from tests.conftest import dispose, rolled_back, settings


def _ensure(location: str) -> Keyring:
    """The token's keyring, created on first use (tokens live for the whole session)."""
    if Path(Pkcs11Uri.parse(location).keyfile).exists():
        return Keyring.load(location)
    return Keyring.create(location)


def test_keks_live_in_the_token_and_wrap_inside_it(softhsm: dict[str, str]) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    ring = _ensure(softhsm["nrm-unit"])
    while ring.kek_versions != [1] and len(ring.kek_versions) > 1:
        ring.retire_kek(ring.kek_versions[0])
    first = ring.current_kek_version
    assert '"kek": []' in ring.path.read_text()
    dek = new_dek()
    version, wrapped = ring.wrap_dek(dek, "form:f-1")
    reopened = Keyring.load(softhsm["nrm-unit"])
    assert reopened.unwrap_dek(version, wrapped, "form:f-1") == dek
    with pytest.raises(CryptoError):
        reopened.unwrap_dek(version, wrapped, "form:f-2")

    assert reopened.rotate_kek() == first + 1
    rewrapped = reopened.wrap_dek(reopened.unwrap_dek(version, wrapped, "form:f-1"), "form:f-1")
    reopened.retire_kek(first)
    assert reopened.kek_versions == [first + 1]
    assert reopened.unwrap_dek(*rewrapped, "form:f-1") == dek
    with pytest.raises(KeyringError):
        reopened.unwrap_dek(version, wrapped, "form:f-1")

    uri = Pkcs11Uri.parse(softhsm["nrm-unit"])
    token = pkcs11.lib(uri.module).get_token(token_label=uri.token)
    with token.open(user_pin=uri.pin) as session:
        (kek,) = list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}))
        assert kek[Attribute.LABEL] == f"nrm-kek-v{first + 1}"
        assert kek[Attribute.EXTRACTABLE] is False
        assert kek[Attribute.SENSITIVE] is True


def test_a_second_keyring_on_a_token_in_use_is_refused(softhsm: dict[str, str], tmp_path: Path) -> None:
    uri = softhsm["nrm-unit"].replace("x-keyfile=", f"x-keyfile={tmp_path}/other-")
    _ensure(softhsm["nrm-unit"])
    with pytest.raises(KeyringError, match="holds KEKs already"):
        Keyring.create(uri)


@pytest.mark.parametrize("uri", [
    "pkcs11:token=x",
    "pkcs11:token=x?module-path=/nope.so&pin-source=env:NRM_NO_SUCH_VARIABLE&x-keyfile=/tmp/k",
    "file:///etc/keys",
])
def test_incomplete_uris_are_refused_clearly(uri: str) -> None:
    with pytest.raises(KeyringError):
        Pkcs11Uri.parse(uri)


@pytest.fixture
def hsm_app(softhsm: dict[str, str], database_url: str) -> Iterator[Flask]:
    """The whole app on a PKCS#11 keyring, each test in a rolled-back transaction."""
    location = softhsm["nrm-app"]
    _ensure(location)
    app = create_app({**settings(database_url, Path("unused")), "KEYRING": location})
    with rolled_back(app) as bound:
        yield bound
    dispose(app)


def test_forms_are_sealed_and_opened_through_the_token(hsm_app: Flask) -> None:
    from tests.forms.helpers import adult, agency

    http: FlaskClient = hsm_app.test_client()
    ngo = agency(http)
    document = adult()
    written = ngo.sdk.submit_form(document)
    assert ngo.sdk.read_form(written["id"])["document"] == document


def test_a_rotation_made_by_another_process_is_seen_through_the_token(softhsm: dict[str, str], tmp_path: Path) -> None:
    import os
    import secrets
    import subprocess
    import sys

    from nrm_api.migrate import upgrade

    location = softhsm["nrm-unit"]
    ring = _ensure(location)  # a running worker's keyring
    before = ring.current_kek_version
    database = f"sqlite:///{tmp_path / 'nrm.db'}"
    upgrade(database)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NRM_") or k == "NRM_TEST_HSM_PIN"}
    env.update({"NRM_KEYRING": location, "NRM_DATABASE_URL": database, "NRM_SECRET_KEY": secrets.token_urlsafe(32),
                "NRM_BASE_URL": "http://nrm.test", "NRM_INSTANCE_PATH": str(tmp_path)})
    rotated = subprocess.run([str(Path(sys.executable).with_name("nrm-api")), "keys", "rotate"], env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert rotated.returncode == 0, rotated.stderr
    assert ring.current_kek_version == before + 1
    dek = new_dek()
    assert ring.wrap_dek(dek, "form:f-9")[0] == before + 1
    ring.retire_kek(before)
    assert Keyring.load(location).kek_versions == [before + 1]


def test_hosted_keys_are_generated_and_sign_inside_the_token(softhsm: dict[str, str]) -> None:
    import pkcs11
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from pkcs11 import Attribute, ObjectClass

    from nrm_api.crypto.keyfile import unb64u

    ring = _ensure(softhsm["nrm-unit"])
    jwk = ring.hosted.create("ngo-token")
    assert jwk["kid"].startswith("hosted:ngo-token:") and set(jwk) == {"kty", "crv", "x", "kid"}
    assert jwk["kid"] in Keyring.load(softhsm["nrm-unit"]).hosted.held("ngo-token")
    assert '"hosted"' not in ring.path.read_text()  # nothing of it in the key file
    signature = ring.hosted.sign(jwk["kid"], b"what a caseworker wrote")
    Ed25519PublicKey.from_public_bytes(unb64u(jwk["x"])).verify(signature, b"what a caseworker wrote")

    uri = Pkcs11Uri.parse(softhsm["nrm-unit"])
    token = pkcs11.lib(uri.module).get_token(token_label=uri.token)
    with token.open(user_pin=uri.pin) as session:
        (private,) = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: jwk["kid"]}))
        assert private[Attribute.EXTRACTABLE] is False and private[Attribute.SENSITIVE] is True
    ring.hosted.destroy(jwk["kid"])
    assert ring.hosted.held("ngo-token") == []
    with pytest.raises(KeyringError, match="no private key"):
        ring.hosted.sign(jwk["kid"], b"after retirement")


def test_a_web_write_is_signed_in_the_token_and_verified_by_the_service(hsm_app: Flask) -> None:
    import uuid

    from nrm_api.accounts import hosted
    from nrm_api.audit.actor import Actor
    from nrm_api.crypto.canonical import canonical
    from nrm_api.crypto.hosted import LocalHostedKeys
    from tests.conftest import bearer, create_user, login_token
    from tests.forms.helpers import adult

    http: FlaskClient = hsm_app.test_client()
    user = create_user("caseworker", totp=True)
    actor = Actor(f"user:{user['username']}", user["agency"], "caseworker")
    ring: Keyring = hsm_app.extensions["nrm_keyring"]
    assert not isinstance(ring.hosted, LocalHostedKeys)
    document = adult()
    signature = hosted.sign_for_user(actor, "POST", "/api/v1/forms", document)
    response = http.post("/api/v1/forms", data=canonical(document), content_type="application/json",
                         headers={**bearer(login_token(http, user)), "X-JWS-Signature": signature,
                                  "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.get_json()
    kid = hosted.current_kid(user["agency"])
    assert kid is not None and kid in ring.hosted.held(user["agency"])
    hosted.rotate(actor, user["agency"])
    assert ring.hosted.held(user["agency"]) == [hosted.current_kid(user["agency"])] != [kid]
