"""Sign-in limits are shared by every worker: in Redis when configured, else in the database (item 20)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select

from nrm_api import create_app
from nrm_api.accounts.models import LoginThrottle
from nrm_api.accounts.throttle_store import WINDOW_SECONDS, RedisStore, Window
from nrm_api.extensions import db
from tests.conftest import create_user, dispose, settings

REDIS_URL = os.environ.get("NRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LOGIN = "/api/v1/auth/login"


def _redis_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


def _fail_on(app: Flask, user: dict[str, str], times: int) -> list[int]:
    body = {"username": user["username"], "password": "wrong-password-xx"}
    return [app.test_client().post(LOGIN, json=body, environ_base={"REMOTE_ADDR": f"10.94.0.{n}"}).status_code
            for n in range(times)]


def _sign_in(app: Flask, user: dict[str, str]) -> int:
    body = {"username": user["username"], "password": user["password"]}
    return app.test_client().post(LOGIN, json=body, environ_base={"REMOTE_ADDR": "10.94.1.1"}).status_code


@pytest.fixture
def worker(database_url: str, keyring_path: Path) -> Iterator[Flask]:
    """A second app on the same database: another worker of the same deployment, with its own memory."""
    app = create_app(settings(database_url, keyring_path))
    yield app
    dispose(app)


def test_two_workers_without_redis_share_the_limits_through_the_database(session_app: Flask,
                                                                        worker: Flask) -> None:
    with session_app.app_context():
        user = create_user()
    assert _fail_on(session_app, user, 10) == [401] * 10
    assert _sign_in(worker, user) == 429
    with worker.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginThrottle)) > 0
        db.session.close()


@pytest.fixture
def redis_workers(database_url: str, keyring_path: Path) -> Iterator[tuple[Flask, Flask, str]]:
    """Two apps sharing the real Redis under a key prefix of this test's own, removed afterwards."""
    if not _redis_answers():
        if os.environ.get("NRM_TEST_REQUIRE_REDIS"):
            raise RuntimeError("NRM_TEST_REQUIRE_REDIS is set but Redis does not answer on 127.0.0.1:6379")
        pytest.skip("Redis does not answer on 127.0.0.1:6379")
    prefix = f"nrm-test-{uuid.uuid4().hex[:12]}:"
    apps = [create_app(settings(database_url, keyring_path, REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix))
            for _ in range(2)]
    yield apps[0], apps[1], prefix
    for app in apps:
        dispose(app)
    server = redis.Redis.from_url(REDIS_URL)
    for key in server.scan_iter(match=f"{prefix}*"):
        server.delete(key)
    server.close()


def test_with_redis_two_workers_share_the_limits_in_redis(redis_workers: tuple[Flask, Flask, str]) -> None:
    first, second, prefix = redis_workers
    with first.app_context():
        user = create_user()
        rows_before = db.session.scalar(select(func.count()).select_from(LoginThrottle))
        db.session.close()
    assert _fail_on(first, user, 10) == [401] * 10
    assert _sign_in(second, user) == 429
    server = redis.Redis.from_url(REDIS_URL)
    try:
        stored = list(server.scan_iter(match=f"{prefix}login:*"))
        assert stored and all(user["username"].encode() not in key for key in stored)
        assert max(server.zcard(key) for key in stored) == 10
    finally:
        server.close()
    with second.app_context():  # nothing went to the database
        assert db.session.scalar(select(func.count()).select_from(LoginThrottle)) == rows_before
        db.session.close()


def test_a_redis_reservation_is_all_or_none(redis_workers: tuple[Flask, Flask, str]) -> None:
    _, _, prefix = redis_workers
    store = RedisStore(REDIS_URL, prefix)
    full, empty = Window("full", 1), Window("empty", 5)
    assert store.reserve((full,), "a", 1000.0) == 0
    assert store.reserve((full, empty), "b", 1001.0) == pytest.approx(WINDOW_SECONDS - 1)
    server = redis.Redis.from_url(REDIS_URL)
    try:
        assert server.zcard(f"{prefix}login:empty") == 0  # the refused "b" took no slot anywhere
        store.release((full,), "a")
        assert store.reserve((full, empty), "d", 1003.0) == 0
        assert server.zrange(f"{prefix}login:empty", 0, -1) == [b"d"]
    finally:
        server.close()
