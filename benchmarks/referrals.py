"""Referrals benchmark (`make bench`): referral and status-change throughput, webhook lag, feed reads.

`nrm-api serve` (gunicorn, the sequencer and the webhook deliverer) on PostgreSQL, a real local
webhook receiver for the recipient, figures as JSON lines. Bodies are signed before the clock starts.

The webhook figure is issue 12's: how long after the last referral's answer its webhook, the last
of all, has arrived. The status changes are sent meanwhile, as they would be; their own webhooks'
lag after the last change's answer is given beside it.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from nrm_api import create_app
from nrm_api.accounts import admin
from nrm_api.agencies import service as agencies
from nrm_api.audit.actor import Actor
from nrm_api.client import NrmClient
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jose import generate_private_jwk, public_half
from nrm_api.crypto.jws import sign_detached
from nrm_api.crypto.keyring import Keyring
from nrm_api.webhooks import service as webhooks

from .common import figure, note, percentile, postgres_database, sized
from .forms import CONCURRENCY, WORKERS, Request, _document, _free_port, _load, _serve

REFERRALS = sized("BENCH_REFERRALS", 1000, 300)
#: Issue 12's bar: a referral's create and status change at least half the plain submit's rate.
TARGET = 0.5
#: Issue 12's bar: the last webhook of a burst arrives at most this long after the burst's last answer.
WEBHOOK_TARGET_S = 2.0
#: How long the webhooks are waited for before the figure is given as it stands.
WEBHOOK_WAIT_S = 120


class _Receiver(ThreadingHTTPServer):
    # a real web server's listen backlog (nginx's is 511): the standard library's 5 makes the kernel
    # drop the connections of a deliverer sending several at once, each tried again a second later
    request_queue_size = 128


class Arrivals:
    """A webhook receiver that notes when each referral's first webhook of each type arrived."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.moved: dict[str, float] = {}
        arrivals = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                seen = arrivals.at if body["type"] == "referral.requested" else arrivals.moved
                seen.setdefault(body["data"].get("referral_id", ""), time.time())
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = _Receiver(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """Where the service should send webhooks."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"


def main() -> None:
    """Serve on a throwaway database, refer, move, and watch the webhooks arrive."""
    receiver = Arrivals()
    with postgres_database() as url, tempfile.TemporaryDirectory() as scratch:
        ring = Keyring.create(Path(scratch) / "keyring.json")
        port = _free_port()
        env = {**os.environ, "NRM_DATABASE_URL": url, "NRM_KEYRING": str(ring.path),
               "NRM_SECRET_KEY": secrets.token_urlsafe(32), "NRM_BASE_URL": f"http://127.0.0.1:{port}",
               "NRM_WEBHOOK_ALLOW_PRIVATE": "1"}
        app = create_app({"DATABASE_URL": url, "KEYRING": str(ring.path), "SECRET_KEY": env["NRM_SECRET_KEY"],
                          "BASE_URL": env["NRM_BASE_URL"], "AUDIT_SEQUENCER_INTERVAL": 0, "WEBHOOK_INTERVAL": 0,
                          "WEBHOOK_ALLOW_PRIVATE": True})
        keys = {name: generate_private_jwk() for name in ("ngo", "moi")}
        with app.app_context():
            operator = Actor("cli:bench", role="operator")
            agencies.add_agency(operator, "bench-ngo", kind="ngo", name_en="Bench NGO")
            agencies.add_agency(operator, "bench-moi", kind="authority", name_en="Bench Ministry")
            for name, private in keys.items():
                admin.add_client(operator, f"bench-{name}", f"bench-{name}-system", public_half(private))
            webhooks.register(operator, "bench-moi", receiver.url)
        server = _serve([sys.executable, "-m", "nrm_api.cli", "serve", "--port", str(port), "--workers",
                         str(WORKERS)], env, port)
        plain_port = _free_port()
        plain = _serve([sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{plain_port}",
                        "benchmarks.baseline:create_app()"], env, plain_port)
        try:
            _measure(port, keys, receiver, plain_port)
        finally:
            for served in (server, plain):
                served.terminate()
                served.wait(timeout=30)
            receiver.server.shutdown()


def _plain_rate(plain_port: int) -> float:
    """The plain baseline's submits per second, same run, same database, same payload as the forms'."""
    note(f"submitting {REFERRALS} forms to the plain baseline …")
    plain_submits: list[Request] = [("POST", "/baseline/forms", canonical(_document(n)),
                                     {"Content-Type": "application/json"}) for n in range(REFERRALS)]
    return _load(plain_port, plain_submits, 201)[0]


def _measure(port: int, keys: dict[str, dict[str, str]], receiver: Arrivals, plain_port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    ngo = NrmClient(base, "bench-ngo-system", keys["ngo"])
    moi = NrmClient(base, "bench-moi-system", keys["moi"])
    note(f"submitting {REFERRALS} forms (not timed) …")
    form_ids = [ngo.submit_form(_document(n))["id"] for n in range(REFERRALS)]
    plain_rate = _plain_rate(plain_port)  # here, with every server warm and the submits' audit sequenced
    auth = {"Authorization": f"Bearer {ngo.token()}", "Content-Type": "application/json"}
    bodies = [canonical({"form_id": form_id, "to_agency": "bench-moi", "purpose": "identification"})
              for form_id in form_ids]
    creates: list[Request] = [("POST", "/api/v1/referrals", body, {
        **auth, "X-JWS-Signature": sign_detached(body, keys["ngo"], "POST", "/api/v1/referrals"),
        "Idempotency-Key": str(uuid.uuid4())}) for body in bodies]
    note(f"referring {REFERRALS} forms …")
    rate, latencies, answers = _load(port, creates, 201)
    answered = time.time()
    _report("referrals.create", rate, latencies, plain_rate)
    referral_ids = [json.loads(answer)["id"] for answer in answers]
    moved = canonical({"status": "received"})
    moi_auth = {"Authorization": f"Bearer {moi.token()}", "Content-Type": "application/json", "If-Match": '"1"'}
    note(f"moving {REFERRALS} referrals …")
    # A signature names one request (htm, htu, jti): each referral's move is signed on its own.
    moves: list[Request] = [("POST", f"/api/v1/referrals/{rid}/status", moved, {
        **moi_auth, "X-JWS-Signature": sign_detached(moved, keys["moi"], "POST", f"/api/v1/referrals/{rid}/status")})
        for rid in referral_ids]
    rate, latencies, _ = _load(port, moves, 200)
    moved_answered = time.time()
    _report("referrals.status", rate, latencies, plain_rate)
    _webhooks(receiver, len(referral_ids), answered, moved_answered)
    started, seen, cursor = time.perf_counter(), 0, None
    while True:
        page = moi.changes(cursor, limit=500)
        if not page["items"]:
            break
        seen, cursor = seen + len(page["items"]), page["next_cursor"]
    elapsed = time.perf_counter() - started
    figure("referrals.feed_read", entries=seen, entries_per_s=round(seen / elapsed, 1), page=500)


def _webhooks(receiver: Arrivals, expected: int, answered: float, moved_answered: float) -> None:
    """Wait for every webhook, then give the lag of the last after the last answer of its burst."""
    deadline = time.time() + WEBHOOK_WAIT_S
    while min(len(receiver.at), len(receiver.moved)) < expected and time.time() < deadline:
        time.sleep(0.05)
    lag = round(max(receiver.at.values()) - answered, 2) if len(receiver.at) == expected else None
    moved_lag = round(max(receiver.moved.values()) - moved_answered, 2) if len(receiver.moved) == expected else None
    figure("referrals.webhooks", delivered=len(receiver.at), expected=expected,
           all_delivered_s_after_last_answer=lag, target_s=WEBHOOK_TARGET_S,
           meets_target=lag is not None and lag <= WEBHOOK_TARGET_S, status_delivered=len(receiver.moved),
           status_all_delivered_s_after_last_answer=moved_lag)


def _report(name: str, rate: float, latencies: list[float], plain_rate: float) -> None:
    ratio = rate / plain_rate
    figure(name, per_s=round(rate, 1), baseline_submit_per_s=round(plain_rate, 1), ratio=round(ratio, 3),
           target_ratio=TARGET, meets_target=ratio >= TARGET, p50_ms=round(percentile(latencies, 0.5), 2),
           p99_ms=round(percentile(latencies, 0.99), 2), requests=len(latencies), concurrency=CONCURRENCY,
           workers=WORKERS)


if __name__ == "__main__":
    main()
