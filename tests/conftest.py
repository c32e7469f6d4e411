"""Fixtures: a real database per backend, a transaction per test, factories that make objects.

PostgreSQL runs when it answers (CI requires it), SQLite always; each test runs inside a
transaction rolled back at its end.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from nrm_api import create_app
from nrm_api.accounts import admin
from nrm_api.agencies import service as agencies
from nrm_api.audit.actor import Actor
from nrm_api.audit.models import AuditEvent
from nrm_api.crypto.jose import generate_private_jwk, public_half, sign_jwt
from nrm_api.crypto.keyring import Keyring
from nrm_api.crypto.passwords import totp_now
from nrm_api.extensions import db, limiter
from tests.databases import database, postgres_server

BASE_URL = "http://nrm.test"
ROOT_DIR = Path(__file__).resolve().parents[1]


def _backends() -> list[str]:
    found = ["sqlite"]
    if postgres_server():
        found.append("postgresql")
    elif os.environ.get("NRM_TEST_REQUIRE_POSTGRES"):
        raise RuntimeError("NRM_TEST_REQUIRE_POSTGRES is set but PostgreSQL does not answer")
    return found


@pytest.fixture(scope="session")
def keyring_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Keyring.create(tmp_path_factory.mktemp("keys") / "keyring.json").path


@pytest.fixture(scope="session", params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new, migrated database for the session: a file for SQLite, a database on PostgreSQL."""
    with database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


def settings(database_url: str, keyring_path: Path, **extra: Any) -> dict[str, Any]:
    """The app's settings in tests: a random secret, the session's keyring and database."""
    return {"SECRET_KEY": secrets.token_urlsafe(32), "KEYRING": str(keyring_path), "DATABASE_URL": database_url,
            "BASE_URL": BASE_URL, "REDIS_URL": None, "AUDIT_SEQUENCER_INTERVAL": 0, "WEBHOOK_INTERVAL": 0, **extra}


@pytest.fixture(scope="session")
def session_app(database_url: str, keyring_path: Path) -> Iterator[Flask]:
    app = create_app(settings(database_url, keyring_path))
    yield app
    dispose(app)


def dispose(app: Flask) -> None:
    """Stop ``app``'s sequencer thread and close every pooled connection."""
    app.extensions["nrm_audit_background"].stop()
    app.extensions["nrm_webhook_worker"].stop()
    with app.app_context():
        db.session.close()
        db.engine.dispose()


@contextmanager
def rolled_back(app: Flask) -> Iterator[Flask]:
    """Bind ``app``'s session to one transaction, rolled back at the end: nothing a test does stays."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        db.rebind(connection, join_transaction_mode="create_savepoint")
        limiter.reset()
        try:
            yield app
        finally:
            db.session.close()
            outer.rollback()
            connection.close()
            db.rebind(db.engine)


@pytest.fixture
def app(session_app: Flask) -> Iterator[Flask]:
    """The app, each test inside a transaction rolled back at its end."""
    with rolled_back(session_app) as bound:
        yield bound


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def backend(app: Flask) -> str:
    return db.engine.dialect.name


# --- factories ---------------------------------------------------------------------------------

OPERATOR = Actor("cli:test", role="operator")


def create_agency(agency_id: str | None = None, kind: str = "ngo", regions: tuple[str, ...] = ("Minsk",)) -> str:
    agency_id = agency_id or f"agency-{uuid.uuid4().hex[:8]}"
    agencies.add_agency(OPERATOR, agency_id, kind=kind, name_en=f"Agency {agency_id}", regions=regions)
    return agency_id


def create_client(agency_id: str | None = None) -> tuple[str, dict[str, str]]:
    """Register an agency system; return its id and private JWK."""
    agency_id = agency_id or create_agency()
    client_id = f"{agency_id}-system-{uuid.uuid4().hex[:6]}"
    private = generate_private_jwk()
    admin.add_client(OPERATOR, agency_id, client_id, public_half(private))
    return client_id, private


def create_user(role: str = "caseworker", agency_id: str | None = None, totp: bool = False) -> dict[str, Any]:
    """Add a person; return username, password and, with ``totp``, the secret."""
    agency_id = agency_id or create_agency()
    username = f"{role.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(16)
    _, uri = admin.add_user(OPERATOR, username, agency_id=agency_id, role=role, password=password, totp=totp)
    secret = uri.split("secret=")[1].split("&")[0] if uri else None
    return {"username": username, "password": password, "agency": agency_id, "role": role, "secret": secret}


def assertion(client_id: str, private: dict[str, str], header: dict[str, Any] | None = None,
              **claims: Any) -> str:
    """A client assertion; ``claims`` override or, given ``None``, remove the defaults."""
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": BASE_URL, "jti": uuid.uuid4().hex, "iat": now,
            "exp": now + 120}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    protected = {"alg": "Ed25519", "typ": "client-authentication+jwt", "kid": private["kid"]}
    protected.update(header or {})
    return sign_jwt(body, private, protected)


def token_form(value: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": value, **extra}


def client_token(http: FlaskClient, client_id: str, private: dict[str, str]) -> str:
    response = http.post("/api/v1/auth/token", data=token_form(assertion(client_id, private)))
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["access_token"])


def login_token(http: FlaskClient, user: dict[str, Any]) -> str:
    body = {"username": user["username"], "password": user["password"]}
    if user.get("secret"):
        body["otp"] = totp_now(user["secret"])
    response = http.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_events(**filters: Any) -> list[AuditEvent]:
    """The audit events matching ``filters``, oldest first."""
    query = select(AuditEvent).order_by(AuditEvent.id)
    for name, value in filters.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(db.session.scalars(query))


def last_event() -> AuditEvent:
    events = audit_events()
    assert events, "no audit event was written"
    return events[-1]


# --- SoftHSM2: a real PKCS#11 token ----------------------------------------------------------

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
HSM_TOKENS = ("nrm-unit", "nrm-app")
HSM_PIN = "4321-test-pin"


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Initialise SoftHSM tokens in a folder of their own, before the library is first loaded."""
    import shutil
    import subprocess

    util = shutil.which("softhsm2-util")
    if util is None or not Path(SOFTHSM_MODULE).exists():
        if os.environ.get("NRM_TEST_REQUIRE_SOFTHSM"):
            raise RuntimeError("NRM_TEST_REQUIRE_SOFTHSM is set but SoftHSM2 is not installed (make test installs it)")
        pytest.skip("SoftHSM2 is not installed: `make test` installs it (Debian softhsm2)")
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ["NRM_TEST_HSM_PIN"] = HSM_PIN
    for label in HSM_TOKENS:
        subprocess.run([util, "--init-token", "--free", "--label", label, "--pin", HSM_PIN, "--so-pin", "8765-so"],
                       check=True, capture_output=True, timeout=60)
    return {label: pkcs11_uri(label, folder / f"{label}.keyfile.json") for label in HSM_TOKENS}


def pkcs11_uri(token: str, keyfile: Path) -> str:
    """A keyring URI for one of the test tokens."""
    return f"pkcs11:token={token}?module-path={SOFTHSM_MODULE}&pin-source=env:NRM_TEST_HSM_PIN&x-keyfile={keyfile}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, one per test process (Playwright's sync API allows one in a thread).

    Skipped where absent unless ``make test`` (which installs it) runs: NRM_TEST_REQUIRE_BROWSER.
    """
    from tests.web.support import CHROMIUM, CHROMIUM_ARGS, missing_browser

    missing = missing_browser()
    if missing:
        if os.environ.get("NRM_TEST_REQUIRE_BROWSER"):
            pytest.fail(f"NRM_TEST_REQUIRE_BROWSER is set but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


#: Modules of minutes, handed out first: xdist gives each worker a module at a time in collection
#: order (``--dist loadscope``), so the long ones starting last would leave one worker running alone.
HEAVY_FIRST = ("tests/test_contract.py", "tests/web/test_belarus_flow.py", "tests/web/test_bola.py",
               "tests/referrals/test_bola.py", "tests/web/test_form_browser.py", "tests/test_demo.py")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The heavy modules first, in the order above; everything else keeps pytest's order."""
    def weight(item: pytest.Item) -> int:
        module = item.nodeid.split("::")[0]
        return HEAVY_FIRST.index(module) if module in HEAVY_FIRST else len(HEAVY_FIRST)

    items.sort(key=weight)
