"""Parallel sign-ins through the real app, each on its own connection: counters and TOTP steps hold."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from nrm_api.crypto.passwords import totp_now
from tests.conftest import create_user

LOGIN = "/api/v1/auth/login"


def _together(calls: list[Callable[[], int]]) -> list[int]:
    """Run every call on its own thread, released at once; their status codes."""
    answers: list[int] = []
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], int]) -> None:
        start.wait()
        answers.append(call())

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def _post(app: Flask, body: dict[str, Any], address: str) -> Callable[[], int]:
    def call() -> int:
        return app.test_client().post(LOGIN, json=body, environ_base={"REMOTE_ADDR": address}).status_code
    return call


def _user(app: Flask, totp: bool = False) -> dict[str, Any]:
    with app.app_context():
        return create_user(totp=totp)


def test_parallel_wrong_guesses_are_each_counted(session_app: Flask) -> None:
    user = _user(session_app)
    wrong = {"username": user["username"], "password": "wrong-password-xx"}
    answers = _together([_post(session_app, wrong, f"10.91.0.{n}") for n in range(8)])
    assert answers == [401] * 8
    for n in range(2):  # 8 + 2 = the account's 10
        assert _post(session_app, wrong, f"10.91.1.{n}")() == 401
    right = {"username": user["username"], "password": user["password"]}
    assert _post(session_app, right, "10.91.2.1")() == 429


def test_parallel_guesses_cannot_overrun_the_limit(session_app: Flask) -> None:
    user = _user(session_app)
    wrong = {"username": user["username"], "password": "wrong-password-xx"}
    answers = _together([_post(session_app, wrong, f"10.92.0.{n}") for n in range(14)])
    assert sorted(answers) == [401] * 10 + [429] * 4


def test_one_totp_code_gives_one_token(session_app: Flask) -> None:
    user = _user(session_app, totp=True)
    body = {"username": user["username"], "password": user["password"], "otp": totp_now(user["secret"])}
    answers = _together([_post(session_app, body, f"10.93.0.{n}") for n in range(6)])
    assert sorted(answers) == [200] + [401] * 5
