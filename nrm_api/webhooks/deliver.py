"""The deliverer: sends outbox rows after their commit, retrying with back-off over days.

A run claims due rows by setting a lease and commits, then sends each outside any transaction and
records the outcome in a transaction of its own. A deliverer that dies after its claim leaves the
rows to be claimed again when the lease runs out: a webhook may arrive twice, never not at all,
and receivers dedupe by its ``webhook-id`` (the same on every try). Several deliverers share the
work: PostgreSQL hands each its own rows (``SKIP LOCKED``); SQLite runs one writer at a time.

Signatures follow Standard Webhooks, asymmetric: ``webhook-signature: v1a,<base64 Ed25519>`` over
``{webhook-id}.{webhook-timestamp}.{body}``, by the service's signing key (in the JWKS, and as
``whpk_…`` at ``GET /api/v1/webhooks/endpoint``).
"""

from __future__ import annotations

import base64
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..crypto.canonical import canonical
from ..crypto.keyring import SigningKey
from ..database import utcnow
from ..extensions import keyring, settings
from .addresses import RefusedAddress, post
from .models import AgencyEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .outbox import payload

logger = logging.getLogger(__name__)
#: Waits after each failed try: minutes at first, then a day at a time; about 4 days in all.
BACKOFF = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
           timedelta(hours=2), timedelta(hours=6), timedelta(hours=12), timedelta(days=1), timedelta(days=1),
           timedelta(days=1))
BATCH = 50
#: Webhooks sent at once by one deliverer.
SENDERS = 8
#: Batches one run sends at most before it yields (so a stop request is heard).
MAX_BATCHES = 20
TIMEOUT_SECONDS = 10.0


def public_key(key: SigningKey) -> str:
    """The signing key in Standard Webhooks' form: ``whpk_`` + base64 of the raw Ed25519 key."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = key.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "whpk_" + base64.b64encode(raw).decode()


def sign(key: SigningKey, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1a," + base64.b64encode(key.sign(signed)).decode()


@dataclass(frozen=True)
class Claimed:
    """A row this run holds, with what it needs to send it."""

    id: str
    url: str | None
    body: bytes


def run(session: Session) -> int:
    """Send what is due, a batch at a time, until nothing is (or ``MAX_BATCHES``); the number delivered."""
    delivered = 0
    for _ in range(MAX_BATCHES):
        sent, full = run_batch(session)
        delivered += sent
        if not full:
            break
    return delivered


def run_batch(session: Session) -> tuple[int, bool]:
    """Claim a batch, send it (several at once: one slow endpoint holds up no other), record the outcomes."""
    claimed = claim(session, utcnow(), settings().webhook_lease)
    if not claimed:
        return 0, False
    key, allow_private = keyring().signing_key, settings().webhook_allow_private
    with ThreadPoolExecutor(max_workers=min(SENDERS, len(claimed)), thread_name_prefix="nrm-webhook") as pool:
        outcomes = list(pool.map(lambda row: _send(row, allow_private, key), claimed))
    rows = {row.id: row for row in session.scalars(  # one query for the batch, not one per row
        select(WebhookDelivery).where(WebhookDelivery.id.in_([row.id for row in claimed])))}
    delivered = sum(record(session, row.id, *outcome, row=rows.get(row.id))
                    for row, outcome in zip(claimed, outcomes, strict=True))
    session.commit()
    return delivered, len(claimed) == BATCH


def claim(session: Session, now: datetime, lease: timedelta, batch: int = BATCH) -> list[Claimed]:
    """Lease due rows to this deliverer and commit the lease."""
    query = (select(WebhookDelivery.id, WebhookEndpoint.url, AgencyEvent)
             .outerjoin(WebhookEndpoint, WebhookEndpoint.agency_id == WebhookDelivery.agency_id)
             .outerjoin(AgencyEvent, AgencyEvent.id == WebhookDelivery.event_id)
             .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now,
                    or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until < now))
             .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(batch))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
    rows = session.execute(query).all()
    if rows:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_([row.id for row in rows]))
                        .values(leased_until=now + lease).execution_options(synchronize_session=False))
    claimed = [Claimed(row_id, url, canonical(payload(entry)) if entry is not None else b"{}")
               for row_id, url, entry in rows]  # before the commit expires the entries
    session.commit()
    return claimed


def _send(row: Claimed, allow_private: bool, key: SigningKey) -> tuple[int | None, str | None, int]:
    started = time.monotonic()
    if row.url is None:
        return None, "no_endpoint", 0
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": "nrm-api-webhooks",
               "webhook-id": row.id, "webhook-timestamp": str(timestamp),
               "webhook-signature": sign(key, row.id, timestamp, row.body)}
    try:
        status = post(row.url, row.body, headers, allow_private, TIMEOUT_SECONDS)
    except RefusedAddress as refused:
        return None, refused.code, _ms(started)
    except TimeoutError:
        return None, "timeout", _ms(started)
    except OSError:
        return None, "connection_failed", _ms(started)
    error = None if 200 <= status < 300 else ("redirect" if 300 <= status < 400 else "http_error")
    return status, error, _ms(started)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def record(session: Session, delivery_id: str, status: int | None, error: str | None, took: int,
           row: WebhookDelivery | None = None) -> int:
    """Log the try; mark the row delivered, or due again after its back-off, or dead when tries run out.

    In the caller's transaction: a batch's outcomes commit together. ``row``: the delivery, already read.
    """
    row = row or session.get(WebhookDelivery, delivery_id)
    if row is None or row.state != "pending":  # pragma: no cover - another deliverer finished it after our lease
        return 0
    now = utcnow()
    session.add(WebhookAttempt(delivery_id=delivery_id, attempted_at=now, status_code=status, error=error,
                               duration_ms=took))
    row.attempts += 1
    row.last_status, row.last_error, row.leased_until = status, error, None
    if error is None:
        row.state, row.delivered_at = "delivered", now
    elif row.attempts >= len(BACKOFF) + 1:
        row.state = "dead"
        logger.warning("webhook %s dead after %d tries (%s)", delivery_id, row.attempts, error)
    else:
        wait = BACKOFF[row.attempts - 1]
        row.next_attempt_at = now + wait + timedelta(seconds=random.uniform(0, wait.total_seconds() / 10))  # noqa: S311
    return 1 if error is None else 0
