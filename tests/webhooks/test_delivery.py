"""Webhooks to a real local HTTP server that verifies Standard Webhooks v1a signatures and dedupes by id."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from nrm_api import create_app
from nrm_api.cli import main
from nrm_api.database import utcnow
from nrm_api.extensions import db
from nrm_api.webhooks import deliver, outbox, service
from nrm_api.webhooks.addresses import RefusedAddress, check_url, resolve
from nrm_api.webhooks.models import WebhookDelivery
from tests.conftest import BASE_URL, OPERATOR, bearer, dispose, settings
from tests.forms.helpers import adult
from tests.referrals.helpers import Network, network

NRM_API = str(Path(sys.executable).with_name("nrm-api"))
TOLERANCE_SECONDS = 300


class Receiver:
    """An agency's webhook endpoint: verifies each request, records it, processes each id once."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.status, self.location = status, location
        self.public_key: Ed25519PublicKey | None = None
        self.received: list[dict[str, Any]] = []
        self.processed: dict[str, dict[str, Any]] = {}
        self.bad_signatures = 0
        self.hold: threading.Event | None = None
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.handle(dict(self.headers.items()), body, self)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/nrm/webhooks"

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        """Standard Webhooks, asymmetric: v1a,<base64 Ed25519> over ``id.timestamp.body``."""
        message_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
        if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS or self.public_key is None:
            return False
        for part in headers["webhook-signature"].split(" "):
            version, _, value = part.partition(",")
            if version != "v1a":
                continue
            try:
                self.public_key.verify(base64.b64decode(value), f"{message_id}.{timestamp}.".encode() + body)
                return True
            except Exception:  # noqa: BLE001, S112 - an invalid signature; try the next
                continue
        return False

    def handle(self, headers: dict[str, str], body: bytes, handler: BaseHTTPRequestHandler) -> None:
        headers = {key.lower(): value for key, value in headers.items()}
        if not self.verify(headers, body):
            self.bad_signatures += 1
            handler.send_response(401)
            handler.end_headers()
            return
        self.received.append({"id": headers["webhook-id"], **json.loads(body)})
        self.arrived.set()
        if self.hold is not None:
            self.hold.wait(30)  # the deliverer is killed while it waits for this answer
            return
        self.processed.setdefault(headers["webhook-id"], json.loads(body))
        handler.send_response(self.status)
        if self.location:
            handler.send_header("Location", self.location)
        handler.end_headers()

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


def _key(whpk: str) -> Ed25519PublicKey:
    assert whpk.startswith("whpk_")
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(whpk.removeprefix("whpk_")))


@pytest.fixture
def hooks_settings(database_url: str, keyring_path: Path) -> dict[str, Any]:
    return settings(database_url, keyring_path, WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_LEASE_SECONDS=1)


@pytest.fixture
def hooks_app(hooks_settings: dict[str, Any]) -> Iterator[Flask]:
    """An app whose writes really commit, allowed to call a receiver on this host."""
    app = create_app(hooks_settings)
    yield app
    dispose(app)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _subscribe(http: FlaskClient, net: Network, receiver: Receiver) -> None:
    answer = http.put("/api/v1/webhooks/endpoint", json={"url": receiver.url}, headers=bearer(net.moi.sdk.token()))
    assert answer.status_code == 200, answer.get_json()
    receiver.public_key = _key(answer.get_json()["public_key"])


def _wait(condition: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_app_delivers_a_signed_thin_webhook_after_commit(hooks_settings: dict[str, Any],
                                                             receiver: Receiver) -> None:
    app = create_app({**hooks_settings, "WEBHOOK_INTERVAL": 0.5})
    try:
        with app.app_context():
            http = app.test_client()
            net = network(http)
            _subscribe(http, net, receiver)
            form_id = net.ngo.sdk.submit_form(adult())["id"]
            referral_id = net.ngo.sdk.refer(form_id, net.moi.id, "identification", note="Zxq secret note")["id"]
        _wait(lambda: receiver.processed)
        (message_id, body), = receiver.processed.items()
        assert body["type"] == "referral.requested"
        assert body["data"] == {"event_id": body["data"]["event_id"], "referral_id": referral_id,
                                "status": "requested"}
        assert set(body) == {"type", "timestamp", "data"} and "Zxq" not in json.dumps(body)
        with app.app_context():
            feed = net.moi.sdk.changes()["items"]
            assert [item["data"] for item in feed] == [body["data"]]
            _wait(lambda: _state(message_id) == "delivered")
            log = http.get("/api/v1/webhooks/deliveries", headers=bearer(net.moi.sdk.token())).get_json()
            assert log[0]["id"] == message_id and log[0]["tries"][0]["status_code"] == 200
        assert receiver.bad_signatures == 0
    finally:
        dispose(app)


def _state(message_id: str) -> str | None:
    """The delivery's state now; the read ends at once (on SQLite an open transaction holds the write lock)."""
    state = db.session.scalar(select(WebhookDelivery.state).where(WebhookDelivery.id == message_id))
    db.session.rollback()
    return state


def _deliverer(hooks_settings: dict[str, Any], interval: str = "0.2") -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NRM_")}
    env.update({"NRM_SECRET_KEY": secrets.token_urlsafe(32), "NRM_KEYRING": hooks_settings["KEYRING"],
                "NRM_DATABASE_URL": hooks_settings["DATABASE_URL"], "NRM_BASE_URL": BASE_URL,
                "NRM_WEBHOOK_ALLOW_PRIVATE": "1", "NRM_WEBHOOK_LEASE_SECONDS": "1",
                "NRM_AUDIT_SEQUENCER_INTERVAL": "0", "NRM_WEBHOOK_INTERVAL": "0"})
    return subprocess.Popen([NRM_API, "webhooks", "deliver", "--loop", interval], env=env,  # noqa: S603
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_deliverer_killed_mid_send_delivers_after_restart_and_the_receiver_dedupes(
        hooks_app: Flask, hooks_settings: dict[str, Any], receiver: Receiver) -> None:
    with hooks_app.app_context():
        http = hooks_app.test_client()
        net = network(http)
        _subscribe(http, net, receiver)
        form_id = net.ngo.sdk.submit_form(adult())["id"]
        net.ngo.sdk.refer(form_id, net.moi.id, "identification")
        # committed, and no deliverer runs: the webhook waits in the outbox
        pending = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.agency_id == net.moi.id)).all()
        assert [row.state for row in pending] == ["pending"]
        message_id = pending[0].id
    held = receiver.hold = threading.Event()
    first = _deliverer(hooks_settings)
    try:
        assert receiver.arrived.wait(30), "the first deliverer never sent"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    receiver.hold = None  # the endpoint recovers: it answers from now on
    held.set()  # (the first request's connection is gone with its deliverer)
    second = _deliverer(hooks_settings)
    try:
        _wait(lambda: len(receiver.received) >= 2 and receiver.processed, 30)
        with hooks_app.app_context():
            _wait(lambda: _state(message_id) == "delivered", 30)
    finally:
        second.terminate()
        second.wait(10)
    assert [item["id"] for item in receiver.received] == [message_id, message_id]
    assert list(receiver.processed) == [message_id]
    assert receiver.bad_signatures == 0


#: A poll interval no test waits out: what arrives was sent at start-up or woken by a commit.
NEVER = "3600"


def _refer(net: Network) -> str:
    """A new referral to the MoI (committed); its id."""
    referral: dict[str, Any] = net.ngo.sdk.refer(net.ngo.sdk.submit_form(adult())["id"], net.moi.id, "identification")
    return str(referral["id"])


def _referrals(receiver: Receiver) -> list[str]:
    return [body["data"]["referral_id"] for body in receiver.processed.values()]


def test_a_webhook_committed_while_no_deliverer_ran_is_sent_when_one_starts(
        hooks_app: Flask, hooks_settings: dict[str, Any], receiver: Receiver) -> None:
    with hooks_app.app_context():
        http = hooks_app.test_client()
        net = network(http)
        _subscribe(http, net, receiver)
        waiting = _refer(net)  # committed; no deliverer runs, and no notification is heard
    deliverer = _deliverer(hooks_settings, interval=NEVER)
    try:
        _wait(lambda: _referrals(receiver) == [waiting], 30)
    finally:
        deliverer.terminate()
        deliverer.wait(10)
    assert deliverer.returncode == 0 and receiver.bad_signatures == 0


def test_on_postgresql_a_commit_wakes_the_deliverer_at_once(
        hooks_app: Flask, hooks_settings: dict[str, Any], receiver: Receiver) -> None:
    if not hooks_settings["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite the deliverer polls")
    deliverer = _deliverer(hooks_settings, interval=NEVER)
    try:
        with hooks_app.app_context():
            http = hooks_app.test_client()
            net = network(http)
            _subscribe(http, net, receiver)
            # The deliverer runs at most twice unbidden (when it starts, and when it begins to
            # listen), so of three referrals each made after the last arrived, the third at least
            # was sent because its commit's notification woke the deliverer.
            sent: list[str] = []
            for _ in range(3):
                sent.append(_refer(net))
                _wait(lambda: _referrals(receiver) == sent, 30)
    finally:
        deliverer.terminate()
        deliverer.wait(10)
    assert deliverer.returncode == 0 and receiver.bad_signatures == 0


def test_the_outbox_notifies_at_commit_and_only_then(hooks_app: Flask, hooks_settings: dict[str, Any],
                                                    receiver: Receiver) -> None:
    url = hooks_settings["DATABASE_URL"]
    if not url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as listener, \
            psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as marker:
        listener.execute(f"LISTEN {outbox.CHANNEL}")

        def heard_before(mark: str) -> list[str]:
            """The notifications that came before ``mark``: PostgreSQL delivers them in commit order."""
            marker.execute("SELECT pg_notify(%s, %s)", (outbox.CHANNEL, mark))
            heard: list[str] = []
            for notification in listener.notifies(timeout=30):
                if notification.payload == mark:
                    return heard
                heard.append(notification.payload)
            raise AssertionError("the marker never came")

        with hooks_app.app_context():
            http = hooks_app.test_client()
            net = network(http)
            _subscribe(http, net, receiver)
            assert heard_before("registered") == []  # nothing written to the outbox yet
            outbox.emit([net.moi.id, net.ngo.id], "referral.requested", "referral:one", "requested")
            assert heard_before("written") == []  # written, not committed
            db.session.rollback()
            assert heard_before("rolled-back") == []
            outbox.emit([net.moi.id], "referral.requested", "referral:two", "requested")
            outbox.emit([net.moi.id], "referral.status-changed", "referral:two", "received")
            db.session.commit()
            assert heard_before("committed") == [""]  # one wake-up for the transaction, without a payload
            outbox.emit([net.ngo.id], "referral.requested", "referral:three", "requested")  # no endpoint
            db.session.commit()
            assert heard_before("no-endpoint") == []
            db.session.execute(update(WebhookDelivery).where(WebhookDelivery.agency_id == net.moi.id)
                               .values(state="dead"))
            db.session.commit()
            assert heard_before("dead") == []
            assert service.retry_dead(OPERATOR, net.moi.id) == 2
            assert heard_before("revived") == [""]  # due again: the deliverers are told


def _run(app: Flask) -> int:
    worker = app.extensions["nrm_webhook_worker"]
    return int(worker.run_once())


def test_failures_back_off_over_days_then_stop_and_redirects_are_not_followed(hooks_app: Flask) -> None:
    target = Receiver()
    failing = Receiver(status=307, location=target.url)
    try:
        with hooks_app.app_context():
            http = hooks_app.test_client()
            net = network(http)
            _subscribe(http, net, failing)
            form_id = net.ngo.sdk.submit_form(adult())["id"]
            net.ngo.sdk.refer(form_id, net.moi.id, "identification")
            started = utcnow()
            assert _run(hooks_app) == 0
            db.session.rollback()
            row = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.agency_id == net.moi.id)).one()
            assert (row.state, row.attempts, row.last_error) == ("pending", 1, "redirect")
            assert row.next_attempt_at >= started + deliver.BACKOFF[0]
            waited = deliver.BACKOFF[0]
            for _ in deliver.BACKOFF:
                db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == row.id)
                                   .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
                db.session.commit()
                _run(hooks_app)
                db.session.rollback()
                row = db.session.get(WebhookDelivery, row.id)
                assert row is not None
                if row.state == "pending":
                    waited += deliver.BACKOFF[row.attempts - 1]
            assert (row.state, row.attempts) == ("dead", len(deliver.BACKOFF) + 1)
            assert waited >= timedelta(days=3)
            assert len(failing.received) == len(deliver.BACKOFF) + 1 and target.received == []
            # the endpoint is fixed: the agency retries its dead webhook, and only its own
            _subscribe(http, net, target)
            stranger = bearer(net.ngo.sdk.token())
            moi = bearer(net.moi.sdk.token())
            assert http.post(f"/api/v1/webhooks/deliveries/{row.id}/retry", headers=stranger).status_code == 404
            assert http.post(f"/api/v1/webhooks/deliveries/{row.id}/retry", headers=moi).get_json()["state"] == \
                "pending"
            assert _run(hooks_app) == 1 and len(target.received) == 1
            assert http.post(f"/api/v1/webhooks/deliveries/{row.id}/retry", headers=moi).status_code == 409
            tries = http.get("/api/v1/webhooks/deliveries", headers=moi).get_json()[0]["tries"]
            assert [t["error"] for t in tries] == ["redirect"] * (len(deliver.BACKOFF) + 1) + [None]
    finally:
        target.close()
        failing.close()


def test_operators_retry_every_dead_webhook_of_an_agency(hooks_app: Flask, receiver: Receiver) -> None:
    with hooks_app.app_context():
        http = hooks_app.test_client()
        net = network(http)
        _subscribe(http, net, receiver)
        net.ngo.sdk.refer(net.ngo.sdk.submit_form(adult())["id"], net.moi.id, "identification")
        db.session.execute(update(WebhookDelivery).where(WebhookDelivery.agency_id == net.moi.id)
                           .values(state="dead", attempts=len(deliver.BACKOFF) + 1))
        db.session.commit()
        result = hooks_app.test_cli_runner().invoke(main, ["webhooks", "retry-dead", net.moi.id])
        assert result.exit_code == 0 and result.output.startswith("1 dead webhook(s)"), result.output
        assert _run(hooks_app) == 1 and len(receiver.processed) == 1
        unknown = hooks_app.test_cli_runner().invoke(main, ["webhooks", "retry-dead", "no-such-agency"])
        assert unknown.exit_code != 0 and "no agency" in unknown.output


def test_private_addresses_and_plain_http_are_refused_unless_configured(client: FlaskClient, app: Flask) -> None:
    net = network(client)
    headers = bearer(net.moi.sdk.token())
    for url in ("http://example.org/hook", "https://127.0.0.1/hook", "https://10.1.2.3/hook",
                "https://169.254.169.254/latest", "https://[::1]/hook", "https://[::ffff:192.168.1.1]/hook",
                "https://user:pw@example.org/hook", "ftp://example.org/hook", "https:///nohost"):
        answer = client.put("/api/v1/webhooks/endpoint", json={"url": url}, headers=headers)
        assert answer.status_code == 422, url
    assert client.get("/api/v1/webhooks/endpoint", headers=headers).get_json()["url"] is None
    good = client.put("/api/v1/webhooks/endpoint", json={"url": "https://hooks.example.org/nrm"}, headers=headers)
    assert good.status_code == 200
    # a name is checked by what it resolves to, at every send: localhost is loopback (and refused by
    # name at registration, so let it past that check to see the send-time one)
    parts = check_url("https://localhost/hook", allow_private=True)
    with pytest.raises(RefusedAddress, match="private"):
        resolve(parts, allow_private=False)
