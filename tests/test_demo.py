"""`make run`'s path: the demo set up on a fresh instance folder, served by gunicorn over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NRM_API = str(Path(sys.executable).with_name("nrm-api"))


def _env(instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NRM_")}
    env["NRM_INSTANCE_PATH"] = str(instance)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Run `nrm-api demo setup` twice, then serve it with gunicorn on a free port."""
    instance = tmp_path_factory.mktemp("instance")
    first = subprocess.run([NRM_API, "demo", "setup"], env=_env(instance), capture_output=True, text=True,
                           timeout=120, check=True)
    second = subprocess.run([NRM_API, "demo", "setup"], env=_env(instance), capture_output=True, text=True,
                            timeout=120, check=True)
    assert "moi-caseworker" in first.stdout and first.stdout == second.stdout
    env = _env(instance)
    env.update(dict(line.split("=", 1) for line in (instance / "demo.env").read_text().splitlines()))
    port = _free_port()
    server = subprocess.Popen([NRM_API, "serve", "--port", str(port), "--workers", "1"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/readyz", timeout=1).close()  # noqa: S310 - our own loopback server
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield instance, base
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stderr is not None
        server.stderr.close()


def _call(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_demo_setup_keeps_its_secrets_private(demo: tuple[Path, str]) -> None:
    instance, _ = demo
    for path in (instance / "demo.env", instance / "keyring.json", instance / "demo" / "moi-system.jwk.json"):
        assert path.stat().st_mode & 0o077 == 0, path


def test_each_demo_agency_has_one_hosted_key_held_by_the_keyring(demo: tuple[Path, str]) -> None:
    instance, _ = demo
    held = json.loads((instance / "keyring.json").read_text())["hosted"]
    assert sorted(entry["agency"] for entry in held) == ["iom", "legal-brest", "moi", "shelter-minsk"]
    env = _env(instance)
    env.update(dict(line.split("=", 1) for line in (instance / "demo.env").read_text().splitlines()))
    listed = subprocess.run([NRM_API, "keys", "hosted", "list", "--agency", "moi"], env=env, capture_output=True,
                            text=True, check=True, timeout=60).stdout.splitlines()
    (moi,) = [entry["kid"] for entry in held if entry["agency"] == "moi"]
    assert len(listed) == 1 and listed[0].startswith(moi) and listed[0].endswith("private key held")


def test_the_served_demo_signs_people_and_systems_in(demo: tuple[Path, str]) -> None:
    instance, base = demo
    accounts = json.loads((instance / "demo" / "accounts.json").read_text())
    user = next(u for u in accounts["users"] if u["username"] == "iom-caseworker")
    status, body = _call(f"{base}/api/v1/auth/login", json.dumps(
        {"username": user["username"], "password": user["password"]}).encode(), {"Content-Type": "application/json"})
    assert status == 200, body
    status, agencies = _call(f"{base}/api/v1/agencies", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert status == 200
    assert {a["id"] for a in agencies} == {"moi", "iom", "shelter-minsk", "legal-brest"}

    assertion = subprocess.run([NRM_API, "demo", "assertion", "moi-system"], env=_env(instance),
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    form = urllib.parse.urlencode({
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion}).encode()
    status, token = _call(f"{base}/api/v1/auth/token", form)
    assert status == 200, token
    status, again = _call(f"{base}/api/v1/auth/token", form)
    assert status == 401 and again["error"] == "invalid_client"


def test_the_served_demo_sequences_its_audit_log(demo: tuple[Path, str]) -> None:
    """The sequencer process beside the workers gives events positions and signs a checkpoint."""
    import sqlite3

    instance, base = demo
    _call(f"{base}/api/v1/auth/login", b'{"username": "nobody", "password": "x"}', {"Content-Type": "application/json"})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with sqlite3.connect(instance / "nrm.db") as database:
            queued = database.execute("SELECT count(*) FROM audit_queue").fetchone()[0]
            positions = database.execute("SELECT count(*) FROM audit_leaves").fetchone()[0]
            checkpoints = database.execute("SELECT count(*) FROM audit_checkpoints").fetchone()[0]
        database.close()
        if positions and not queued and checkpoints:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"not sequenced: {positions} positions, {queued} queued, {checkpoints} checkpoints")


def test_the_server_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    result = subprocess.run([NRM_API, "serve", "--port", str(_free_port())], env=_env(tmp_path),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "NRM_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_demo_person_signs_in_on_the_web_form_with_demo_otp(demo: tuple[Path, str]) -> None:
    from tests.web.support import Http

    instance, base = demo
    accounts = json.loads((instance / "demo" / "accounts.json").read_text())
    user = next(u for u in accounts["users"] if u["username"] == "shelter-minsk-caseworker")

    def code() -> str:
        return subprocess.run([NRM_API, "demo", "otp", user["username"]], env=_env(instance), capture_output=True,
                              text=True, check=True, timeout=60).stdout.strip()

    not_yet = subprocess.run([NRM_API, "demo", "otp", user["username"]], env=_env(instance), capture_output=True,
                             text=True, timeout=60)
    assert not_yet.returncode != 0 and "sign in on the web form first" in not_yet.stderr
    http = Http(base)
    first = http.submit("/login", {"username": user["username"], "password": user["password"]})
    assert first.status == 303 and (first.location or "").startswith("/account/totp")
    enrol = http.get("/account/totp")
    assert enrol.status == 200 and "<svg" in enrol.text
    done = http.post("/account/totp", {"otp": code(), "csrf_token": enrol.csrf()})
    assert done.status == 303 and http.get("/account").status == 200
    http.submit("/logout", {}, page="/account")
    again = Http(base)
    step = again.submit("/login", {"username": user["username"], "password": user["password"]})
    assert step.location == "/login"
    time.sleep(30.5 - time.time() % 30)  # the enrolment used this 30-second step's code: a code is good once
    signed = again.submit("/login", {"otp": code()})
    assert signed.status == 303 and again.get("/account").status == 200
