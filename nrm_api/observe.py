"""Operability: /metrics, one log line per request, and a database outage answered as 503.

- ``/metrics`` (Prometheus text) answers only callers in ``NRM_METRICS_ALLOW``; anyone else gets the
  same 404 as any unknown path. Every hop must be allowed: the socket's peer and each address in
  ``X-Forwarded-For`` (all of them, trusted or not). A client reaching the port directly cannot
  lend itself an allowed address with a forged header (its own address is checked too), and a
  reverse proxy on an allowed address cannot hand the page to the clients it forwards.
- Every request logs one line on ``nrm_api.requests``: method, route template, status, duration and
  ``request_id``; never the path as requested (ids), a query, a header, a token or a body.
- While the database refuses connections, every request answers 503 problem+json with
  ``Retry-After`` at once (the engine's connect timeout bounds the wait), and the pool's pre-ping
  reconnects by itself when it is back.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from werkzeug.exceptions import InternalServerError

from . import boundary, metrics
from .accounts.auth import public
from .config import metrics_networks
from .extensions import db
from .problems import Problem

logger = logging.getLogger("nrm_api.requests")
bp = Blueprint("operations", __name__)

#: Seconds a client is asked to wait before trying again while the database is away.
RETRY_AFTER_SECONDS = 5
#: Backlog gauges count at most this many rows: a scrape stays cheap however far behind a queue is.
COUNT_CAP = 100_000


def _started() -> None:
    g.nrm_started = time.perf_counter()


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def _answered(response: Response) -> Response:
    started = g.pop("nrm_started", None)
    seconds = time.perf_counter() - started if started is not None else 0.0
    method, route, status = request.method, _route(), response.status_code
    metrics.observe_request(method, route, status, seconds)
    request_id = g.get("request_id")
    logger.info("%s %s %s %.1f ms %s", method, route, status, seconds * 1000, request_id,
                extra={"request_id": request_id, "method": method, "route": route, "status": status,
                       "duration_ms": round(seconds * 1000, 1)})
    return response


# --- /metrics ----------------------------------------------------------------------------------


def _hops() -> list[str]:
    """Every address the request passed through that we can see: the socket's peer and each forwarded one."""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    peer = original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR") or ""
    hops = [peer]
    forwarded = original.get("HTTP_X_FORWARDED_FOR", request.environ.get("HTTP_X_FORWARDED_FOR")) or ""
    if forwarded.strip():
        hops.extend(part.strip() for part in forwarded.split(","))
    return hops


def _allowed(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        found = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        found = found.ipv4_mapped
    return any(found.version == network.version and found in network for network in networks)


def metrics_allowed() -> bool:
    """Whether every hop of this request is in ``NRM_METRICS_ALLOW`` (a ``Forwarded`` header is refused)."""
    if request.headers.get("Forwarded"):
        return False  # RFC 7239's header is not parsed here: refuse rather than guess
    networks: tuple[Any, ...] = current_app.extensions["nrm_metrics_allow"]
    return all(_allowed(hop, networks) for hop in _hops())


class _Default:
    """The process's own registry (one process: tests, the development server)."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client import REGISTRY

        yield from REGISTRY.collect()


class _Backlog:
    """Gauges read from the database at scrape time: a few indexed counts, capped."""

    def __init__(self, values: dict[str, float] | None) -> None:
        self.values = values

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        yield GaugeMetricFamily("nrm_database_up", "1 when the database answered this scrape.",
                                value=0 if self.values is None else 1)
        if self.values is None:
            return
        helps = {
            "nrm_audit_queue_depth": f"Audit events waiting for the sequencer (counted up to {COUNT_CAP}).",
            "nrm_audit_sequencer_lag_seconds": "Age of the oldest audit event waiting for the sequencer (0: none).",
            "nrm_webhook_backlog": f"Webhooks pending delivery, retries included (counted up to {COUNT_CAP}).",
            "nrm_webhook_dead": f"Webhooks whose retries ran out (counted up to {COUNT_CAP}).",
        }
        for name, value in self.values.items():
            yield GaugeMetricFamily(name, helps[name], value=value)


def _capped(table: str, where: str = "") -> str:
    return f"SELECT count(*) FROM (SELECT 1 FROM {table} {where} LIMIT {COUNT_CAP}) AS capped"  # noqa: S608 - constants


def _read_backlog() -> dict[str, float] | None:
    session = db.session
    try:
        depth = session.execute(text(_capped("audit_queue"))).scalar_one()
        oldest = session.execute(text("SELECT occurred_at FROM audit_events WHERE id = "
                                      "(SELECT min(event_id) FROM audit_queue)")).scalar()
        backlog = session.execute(text(_capped("webhook_deliveries", "WHERE state = 'pending'"))).scalar_one()
        dead = session.execute(text(_capped("webhook_deliveries", "WHERE state = 'dead'"))).scalar_one()
    except sa_exc.SQLAlchemyError:
        session.rollback()
        return None
    session.rollback()
    lag = 0.0
    if oldest is not None:
        if isinstance(oldest, str):  # SQLite, read without the model's type
            oldest = datetime.fromisoformat(oldest)
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        lag = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
    return {"nrm_audit_queue_depth": float(depth), "nrm_audit_sequencer_lag_seconds": lag,
            "nrm_webhook_backlog": float(backlog), "nrm_webhook_dead": float(dead)}


@bp.get("/metrics")
@public
def metrics_page() -> Response:
    """Prometheus metrics, for the addresses in NRM_METRICS_ALLOW only (404 to anyone else)."""
    if not metrics_allowed():
        raise Problem(404, "not-found", "Not Found")
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Default())
    registry.register(_Backlog(_read_backlog()))
    response = Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the database away -------------------------------------------------------------------------


def database_away(error: BaseException | None) -> bool:
    """Whether ``error`` says the database cannot be reached (refused, dropped, timed out), not a bad query."""
    if isinstance(error, sa_exc.TimeoutError):  # no connection free in the pool in time
        return True
    if isinstance(error, sa_exc.DBAPIError):
        return bool(error.connection_invalidated) or isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
    return False


def _unavailable() -> Response:
    current_app.logger.warning("database unavailable: answering 503")
    return Problem(503, "unavailable", "Service Unavailable", "the database is unavailable or busy; try again shortly",
                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)}).answer()


def _database_error(error: sa_exc.SQLAlchemyError) -> Response:
    if database_away(error):
        db.session.close()  # a session whose connection died is of no use to the rest of the request
        return _unavailable()
    return boundary.handle_unexpected(error)


def _server_error(error: InternalServerError) -> Response:
    """A 500, and what Flask makes of an error raised while answering another (an audit write failing)."""
    if database_away(error.original_exception):
        db.session.close()
        return _unavailable()
    return boundary.handle_http_exception(error)


def _log_exception(app: Flask) -> Any:
    """Flask's log of an error raised while answering another: where, never what; nothing for an outage.

    Flask's own would log the message, and a database error's message quotes SQL and its parameters.
    """
    def log_exception(exc_info: Any) -> None:
        error = exc_info[1]
        if database_away(error):
            return  # answered 503 and logged as such
        frames = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(error.__traceback__))
        app.logger.error("unhandled %s while answering %s %s\n%s", type(error).__name__, request.method, _route(),
                         frames)

    return log_exception


def init_app(app: Flask) -> None:
    """Time and log every request, serve /metrics, answer a database outage as 503."""
    app.extensions["nrm_metrics_allow"] = metrics_networks(str(app.config["METRICS_ALLOW"]))
    app.log_exception = _log_exception(app)  # type: ignore[method-assign]
    app.before_request(_started)
    app.after_request(_answered)
    app.register_error_handler(sa_exc.SQLAlchemyError, _database_error)
    app.register_error_handler(InternalServerError, _server_error)
    app.register_blueprint(bp)
