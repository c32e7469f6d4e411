"""Sign-in benchmarks (`make bench`): an unknown account must cost what a real one costs.

- login.failure: p50/p99 of a wrong password for a real account and of any password for an
  unknown one (each attempt from its own address, so no limit interferes); the ratio of the medians.
- login.throttled: p50 of the 429 for a real and for an unknown account once their window is full.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from flask import Flask

from nrm_api.accounts import admin
from nrm_api.agencies import service as agencies
from nrm_api.audit.actor import Actor

from .common import bench_app, figure, note, percentile, postgres_database, sized

ATTEMPTS = sized("BENCH_LOGIN_ATTEMPTS", 60, 30)
PER_ACCOUNT = 9
OPERATOR = Actor("cli:bench", role="operator")


def _timed(call: Callable[[], int], expected: int) -> float:
    started = time.perf_counter()
    status = call()
    elapsed = (time.perf_counter() - started) * 1000
    assert status == expected, status
    return elapsed


def _attempt(app: Flask, username: str, address: str) -> Callable[[], int]:
    body = {"username": username, "password": "not-the-password-123"}
    return lambda: app.test_client().post("/api/v1/auth/login", json=body,
                                          environ_base={"REMOTE_ADDR": address}).status_code


def main() -> None:
    """Print the sign-in figures."""
    with postgres_database() as url, bench_app(url) as (app, _ring):
        accounts = ATTEMPTS // PER_ACCOUNT + 1  # stay under each account's window
        with app.app_context():
            agencies.add_agency(OPERATOR, "bench-agency", kind="ngo", name_en="Bench", regions=("Minsk",))
            for n in range(accounts):
                admin.add_user(OPERATOR, f"bench-person-{n}", agency_id="bench-agency", role="auditor",
                               password=secrets.token_urlsafe(16))
        note(f"login: {ATTEMPTS} failures each for real and unknown accounts")
        real = [_timed(_attempt(app, f"bench-person-{n // PER_ACCOUNT}", f"10.8.{n // 250}.{n % 250}"), 401)
                for n in range(ATTEMPTS)]
        unknown = [_timed(_attempt(app, f"bench-nobody-{n // PER_ACCOUNT}", f"10.9.{n // 250}.{n % 250}"), 401)
                   for n in range(ATTEMPTS)]
        figure("login.failure", real_p50_ms=round(percentile(real, 0.5), 1),
               real_p99_ms=round(percentile(real, 0.99), 1), unknown_p50_ms=round(percentile(unknown, 0.5), 1),
               unknown_p99_ms=round(percentile(unknown, 0.99), 1),
               ratio=round(percentile(unknown, 0.5) / percentile(real, 0.5), 2), attempts=ATTEMPTS)
        for username in ("bench-person-0", "bench-nobody-0"):  # the tenth failure fills each window
            _timed(_attempt(app, username, "10.10.0.1"), 401)
        real_429 = [_timed(_attempt(app, "bench-person-0", "10.10.0.1"), 429) for _ in range(20)]
        unknown_429 = [_timed(_attempt(app, "bench-nobody-0", "10.10.0.1"), 429) for _ in range(20)]
        figure("login.throttled", real_p50_ms=round(percentile(real_429, 0.5), 1),
               unknown_p50_ms=round(percentile(unknown_429, 0.5), 1))
        app.extensions["nrm_audit_background"].stop()
        app.extensions["nrm_webhook_worker"].stop()


if __name__ == "__main__":
    main()
