"""/metrics and the request log of a real `nrm-api serve` (two gunicorn workers, PostgreSQL).

The counters move with a flow of API calls and sum over both workers (multiprocess mode); labels
carry route templates, never a path as requested; /metrics answers only the addresses of
NRM_METRICS_ALLOW, whatever X-Forwarded-For claims; neither /metrics nor the logs ever hold a
canary (a first name submitted in a form), a username or a form id; each request logs one JSON
line carrying its ``request_id``.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from nrm_api import create_app
from tests.conftest import dispose, settings
from tests.databases import postgres_server
from tests.forms.helpers import CANARIES, canary_document
from tests.serving import Server, call, serve

pytestmark = pytest.mark.skipif(postgres_server() is None, reason="PostgreSQL does not answer")

FORMS = "/api/v1/forms"
_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # behind one (pretend) proxy: X-Forwarded-For is believed for the caller's address, never for /metrics
    with serve("postgresql", tmp_path_factory.mktemp("metrics"), workers=2, stdout=True,
               extra_env=lambda _url: {"NRM_PROXY_COUNT": "1"}) as running:
        yield running


def scrape(server: Server, headers: dict[str, str] | None = None) -> str:
    status, body = call(f"{server.base}/metrics", headers=headers)
    assert status == 200, body
    return str(body)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
        found[(match["name"], labels)] = float(match["value"])
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def _peer_request(server: Server, source: str, path: str) -> tuple[int, str, str]:
    host, port = server.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30, source_address=(source, 0))
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read().decode()
    finally:
        connection.close()


def test_counters_move_with_a_flow_and_hold_no_canary(server: Server) -> None:
    sdk = server.sdk(0)
    before = scrape(server)
    written = [sdk.submit_form(canary_document()) for _ in range(3)]
    for form in written:
        assert sdk.read_form(form["id"])["document"]["person"]["first_name"] == CANARIES["person.first_name"]
    auditor = server.login(server.auditor)
    status, _ = call(f"{server.base}{FORMS}/{written[0]['id']}", headers={"Authorization": "Bearer not-a-token"})
    assert status == 401
    status, _ = call(f"{server.base}/api/v1/agencies")
    assert status == 401
    after = scrape(server)

    created = {"method": "POST", "route": FORMS, "status": "201"}
    assert value(after, "nrm_http_requests_total", **created) - value(before, "nrm_http_requests_total",
                                                                      **created) == 3
    read = {"method": "GET", "route": f"{FORMS}/<form_id>", "status": "200"}
    assert value(after, "nrm_http_requests_total", **read) >= 3, after
    assert value(after, "nrm_http_request_duration_seconds_count", **read) >= 3
    assert value(after, "nrm_token_refusals_total", kind="access", reason="invalid_token") - value(
        before, "nrm_token_refusals_total", kind="access", reason="invalid_token") == 1
    assert value(after, "nrm_token_refusals_total", kind="access", reason="missing_token") - value(
        before, "nrm_token_refusals_total", kind="access", reason="missing_token") == 1
    for gauge in ("nrm_audit_queue_depth", "nrm_audit_sequencer_lag_seconds", "nrm_webhook_backlog",
                  "nrm_webhook_dead"):
        assert (gauge, frozenset()) in samples(after), gauge
    assert value(after, "nrm_database_up") == 1

    logs = server.stdout.read_text() + server.server_errors()  # type: ignore[union-attr]
    secrets = [*CANARIES.values(), server.auditor["username"], auditor, *(form["id"] for form in written)]
    for text, where in ((after, "/metrics"), (logs, "the logs")):
        for secret in secrets:
            assert secret not in text and json.dumps(secret).strip('"') not in text, (secret, where)


def test_one_json_line_per_request_with_its_request_id(server: Server) -> None:
    ids = []
    for path in ("/healthz", "/api/v1/agencies", "/api/v1/forms/00000000-0000-4000-8000-000000000000?q=Olga"):
        request = urllib.request.Request(f"{server.base}{path}")  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                ids.append((path, response.headers["X-Request-Id"], response.status))
        except urllib.error.HTTPError as error:
            with error:
                ids.append((path, error.headers["X-Request-Id"], error.code))
    lines = server.request_log()
    assert all("request_id" in line for line in lines)
    for path, request_id, status in ids:
        found = [line for line in lines if line["request_id"] == request_id]
        assert len(found) == 1, (path, found)
        line = found[0]
        assert line["status"] == status and line["method"] == "GET" and line["duration_ms"] >= 0
        assert line["logger"] == "nrm_api.requests" and "time" in line and "level" in line
    by_id = {line["request_id"]: line for line in lines}
    assert by_id[ids[2][1]]["route"] == "/api/v1/forms/<form_id>"
    text = server.stdout.read_text()  # type: ignore[union-attr]
    assert "00000000-0000-4000-8000-000000000000" not in text and "Olga" not in text and "Bearer" not in text


def test_metrics_answer_only_allowed_addresses(server: Server) -> None:
    assert scrape(server).startswith("# HELP")
    status, media, body = _peer_request(server, "127.0.0.2", "/metrics")  # a loopback address, not allowed
    assert (status, media) == (404, "application/problem+json"), body
    assert json.loads(body)["type"] == "urn:nrm:problem:not-found"
    assert _peer_request(server, "127.0.0.2", "/healthz")[0] == 200  # the rest of the port answers it
    # behind the proxy: a client it forwards is refused, even from an allowed peer
    status, body = call(f"{server.base}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert status == 404, body
    status, body = call(f"{server.base}/metrics", headers={"X-Forwarded-For": "203.0.113.9, 127.0.0.1"})
    assert status == 404, body
    status, body = call(f"{server.base}/metrics", headers={"Forwarded": "for=127.0.0.1"})
    assert status == 404, body
    # a forged header from a peer that is not allowed lends it nothing
    host, port = server.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30, source_address=("127.0.0.2", 0))
    try:
        connection.request("GET", "/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
        assert connection.getresponse().status == 404
    finally:
        connection.close()


@pytest.mark.parametrize(("allow", "peer", "expected"), [
    ("192.0.2.0/24", "192.0.2.77", 200), ("192.0.2.0/24", "127.0.0.1", 404), ("", "127.0.0.1", 404),
    ("2001:db8::/32,10.0.0.1", "2001:db8::5", 200), ("10.0.0.1", "10.0.0.2", 404),
])
def test_allow_list_in_process(tmp_path: Path, allow: str, peer: str, expected: int) -> None:
    from nrm_api.crypto.keyring import Keyring
    from nrm_api.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'nrm.db'}"
    upgrade(url)
    app: Flask = create_app(settings(url, Keyring.create(tmp_path / "keyring.json").path, METRICS_ALLOW=allow))
    try:
        response = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": peer})
        assert response.status_code == expected
    finally:
        dispose(app)


def test_a_bad_allow_list_is_refused_at_start(tmp_path: Path) -> None:
    from nrm_api.config import ConfigError
    from nrm_api.crypto.keyring import Keyring

    with pytest.raises(ConfigError, match="NRM_METRICS_ALLOW"):
        create_app(settings("sqlite://", Keyring.create(tmp_path / "keyring.json").path, METRICS_ALLOW="10.0.0.300"))
