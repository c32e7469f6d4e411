"""A real `nrm-api serve` with several workers: sign-in limits hold across them (issue 9, item 20)."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

import pytest
import redis

from nrm_api.accounts import limits
from tests.serving import Server, call, serve

REDIS_URL = "redis://127.0.0.1:6379/0"
WORKERS = 4


def _login(server: Server, password: str) -> int:
    body = json.dumps({"username": server.auditor["username"], "password": password}).encode()
    status, _ = call(f"{server.base}/api/v1/auth/login", body, {"Content-Type": "application/json"})
    return status


def _fill_and_try(server: Server) -> list[int]:
    """Fail as often as one address may for one account, each on a new connection, then sign in right."""
    answers = [_login(server, "wrong-password-xx") for _ in range(limits.ACCOUNT_ADDRESS_LIMIT)]
    return [*answers, _login(server, server.auditor["password"])]


def test_workers_without_redis_share_the_limits_in_the_database(tmp_path: Path) -> None:
    with serve("sqlite", tmp_path, workers=WORKERS, systems=0) as server:
        assert _fill_and_try(server) == [401] * limits.ACCOUNT_ADDRESS_LIMIT + [429]


def test_workers_with_redis_share_the_limits_in_redis(tmp_path: Path) -> None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis does not answer on 127.0.0.1:6379")
    prefix = f"nrm-test-{uuid.uuid4().hex[:12]}:"
    store = redis.Redis.from_url(REDIS_URL)
    try:
        with serve("sqlite", tmp_path, workers=WORKERS, systems=0,
                   extra_env=lambda _url: {"NRM_REDIS_URL": REDIS_URL, "NRM_REDIS_PREFIX": prefix}) as server:
            assert _fill_and_try(server) == [401] * limits.ACCOUNT_ADDRESS_LIMIT + [429]
        assert list(store.scan_iter(match=f"{prefix}login:*"))
    finally:
        for key in store.scan_iter(match=f"{prefix}*"):
            store.delete(key)
        store.close()
