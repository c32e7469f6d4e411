"""The service's Prometheus instruments: counted here, served by ``observe`` at /metrics.

Labels take values from small fixed sets only (a route's template, a status, a refusal's reason
code), never a path as requested, an id, a name or anything a caller typed. prometheus-client is
imported on first use, not with this module: under gunicorn it must see ``PROMETHEUS_MULTIPROC_DIR``
(set by ``nrm-api serve`` before the workers start) when it is first imported, or each worker
would count on its own and a scrape would see one worker's numbers.
"""

from __future__ import annotations

import threading
from typing import Any

#: Methods counted under their own name; anything else is ``OTHER``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Why an access token (``access``) or a client assertion at the token endpoint (``assertion``) was refused.
TOKEN_REFUSALS = {
    "access": frozenset({"missing_token", "expired_token", "revoked_token", "invalid_token"}),
    "assertion": frozenset({"invalid_request", "unsupported_grant_type", "invalid_client"}),
}
#: Latency buckets, in seconds: a signed write takes milliseconds, an export may take seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


_made: dict[str, Any] = {}
_making = threading.Lock()


def _instruments() -> dict[str, Any]:
    """The instruments, made once per process (a worker's threads may ask at the same moment)."""
    if _made:
        return _made
    with _making:
        if not _made:
            _made.update(_make())
    return _made


def _make() -> dict[str, Any]:
    from prometheus_client import Counter, Histogram

    return {
        "requests": Counter("nrm_http_requests", "Requests answered, by method, route template and status.",
                            ["method", "route", "status"]),
        "latency": Histogram("nrm_http_request_duration_seconds",
                             "Time to answer a request (until its headers), by method, route template and status.",
                             ["method", "route", "status"], buckets=BUCKETS),
        "token_refusals": Counter("nrm_token_refusals", "Tokens refused: access tokens on API calls and client "
                                  "assertions at the token endpoint, by reason.", ["kind", "reason"]),
    }


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request; ``route`` is the URL rule's template (``unmatched`` when none)."""
    labels = (method if method in METHODS else "OTHER", route, str(status))
    found = _instruments()
    found["requests"].labels(*labels).inc()
    found["latency"].labels(*labels).observe(seconds)


def token_refused(kind: str, reason: str) -> None:
    """Count a refused token: ``kind`` ``access`` or ``assertion``, ``reason`` one of its fixed codes."""
    known = TOKEN_REFUSALS.get(kind, frozenset())
    _instruments()["token_refusals"].labels(kind if kind in TOKEN_REFUSALS else "other",
                                            reason if reason in known else "other").inc()
