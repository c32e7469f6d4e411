"""Two `nrm-api serve` nodes behind Debian's nginx over TLS, sharing one PostgreSQL database and Redis.

Architecture §11: the app is stateless, any number of nodes share PostgreSQL and Redis. Here two
real nodes (gunicorn, each with its sequencer and deliverer) on two ports share a throwaway
database, the keyring file and a Redis database of their own; nginx, running deploy/nginx as
committed (its site/ files and a certificate made here: tests/deploy/nginx_config.py), round-robins
between them. Through it, and at each node directly where a test must pick the node: the referral
flow, replayed `jti`s, shared sign-in limits, a key rotation, a revocation; then faults: one node
killed with SIGKILL under load, and the database's connections terminated.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text

from nrm_api.client import NrmClient
from nrm_api.client.sdk import NrmError
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jws import sign_detached
from tests.conftest import assertion, bearer, create_agency, create_client, create_user, token_form
from tests.databases import postgres_database, postgres_server
from tests.deploy.nginx_config import NGINX, Nginx, site
from tests.forms.helpers import adult
from tests.serving import Server, _environment, free_port

#: This module's Redis database (0-15 on a default server): flushed before and after.
REDIS_DB = 13
#: What any one request may take, whatever fails: never a hang.
REQUEST_SECONDS = 10

pytestmark = [
    pytest.mark.skipif(not postgres_server(), reason="the nodes share a PostgreSQL database"),
    pytest.mark.skipif(not Path(NGINX).exists() and not os.environ.get("NRM_TEST_REQUIRE_NGINX"),
                       reason="nginx is not installed: `make test` installs it (Debian nginx)"),
]


# --- the parts -----------------------------------------------------------------------------------

def _upstreams(folder: Path) -> list[str]:
    """The node (address) that answered each request nginx proxied so far, in order (its `nrm` log format)."""
    served = []
    for line in (folder / "access.log").read_text().splitlines():
        fields = line.split()
        if len(fields) > 7 and fields[7] != "-":
            served.append(fields[7].rstrip(","))  # "a, b": tried a, answered by b
    return served


@dataclass
class Cluster:
    """Two nodes, nginx, and the principals the tests use."""

    base: str
    nodes: list[Server]
    nginx: Nginx
    context: ssl.SSLContext
    database_url: str
    redis: redis.Redis
    agencies: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    writers: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    def transport(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
                  ) -> tuple[int, Mapping[str, str], bytes]:
        """The SDK's HTTP, trusting this cluster's certificate, never waiting past REQUEST_SECONDS."""
        request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_SECONDS, context=self.context) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), error.read()

    def sdk(self, principal: tuple[str, dict[str, str]], base: str | None = None) -> NrmClient:
        """An agency system's SDK session, through nginx (or at ``base``, a node)."""
        return NrmClient(base or self.base, principal[0], principal[1], transport=self.transport)

    def call(self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
             ) -> tuple[int, Any]:
        status, _, raw = self.transport(method, url, headers or {}, body)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = create_engine(self.database_url)
        try:
            with engine.begin() as connection:
                return list(connection.execute(text(query), params))
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("multinode")
    port, ports = free_port(), (free_port(), free_port())
    # deploy/nginx as committed, its site/ files written for these ports (tests/deploy/nginx_config.py)
    server_certificate = site(folder / "nginx", [f"127.0.0.1:{p}" for p in ports], port)
    context = ssl.create_default_context(cafile=str(server_certificate.cert))
    base = f"https://127.0.0.1:{port}"
    store = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    store.flushdb()
    with postgres_database(postgres_server() or "", "nrm_multinode") as url:
        env = _environment(folder, url, base)  # one keyring file, one secret: both nodes
        env.update({"NRM_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}", "NRM_PROXY_COUNT": "1"})
        nodes = [Server(f"http://127.0.0.1:{p}", url, dict(env), folder / f"node{n}.stderr")
                 for n, p in enumerate(ports)]
        running = Cluster(base, nodes, Nginx(folder / "nginx", port), context, url, store)
        with nodes[0].beside():
            for kind in ("ngo", "authority", "international"):
                running.agencies[kind] = create_client(create_agency(kind=kind))
            running.writers = [create_client(create_agency()) for _ in range(8)]
            authority = running.agencies["authority"][0].rsplit("-system-", 1)[0]
            running.users = {"auditor": create_user("auditor", authority),
                             "caseworker": create_user("caseworker", authority)}
        try:
            for node in nodes:
                node.start(workers=1)
            running.nginx.start(server_certificate.cert)
            yield running
        finally:
            running.nginx.stop()
            for node in nodes:
                node.stop()
            store.flushdb()
            store.close()


def _agency(principal: tuple[str, dict[str, str]]) -> str:
    return principal[0].rsplit("-system-", 1)[0]


# --- through nginx over TLS ----------------------------------------------------------------------

def test_the_referral_flow_runs_through_nginx_over_tls_on_both_nodes(cluster: Cluster) -> None:
    ngo, moi, iom = (cluster.sdk(cluster.agencies[kind]) for kind in ("ngo", "authority", "international"))
    served_before = len(_upstreams(cluster.nginx.folder))
    form_id = ngo.submit_form(adult())["id"]
    to_moi = ngo.refer(form_id, _agency(cluster.agencies["authority"]), "identification", priority="urgent")["id"]
    assert [item["id"] for item in moi.referrals(direction="incoming")["items"]] == [to_moi]
    for status in ("received", "accepted", "in-progress"):
        moi.set_status(to_moi, status)
    seen = moi.read_form(form_id)
    assert seen["withheld"] == [] and seen["document"]["person"]["first_name"] == "Olga"
    moi.signed_write("POST", f"/api/v1/forms/{form_id}/decision",
                     {"trafficking_status": "ActualVictimOfTrafficking"}, {"If-Match": seen["etag"]})
    to_iom = moi.refer(form_id, _agency(cluster.agencies["international"]), "assistance",
                       services=["accommodation"])["id"]
    moi.set_status(to_moi, "completed")
    assert ngo.referral(to_moi)["status"] == "completed"
    for status in ("received", "accepted"):
        iom.set_status(to_iom, status)
    assert iom.read_form(form_id)["decision"]["trafficking_status"] == "ActualVictimOfTrafficking"
    history = moi.history(to_moi)["events"]
    assert [event["status"] for event in history] == ["requested", "received", "accepted", "in-progress",
                                                      "completed"]
    # every answer came over TLS from nginx, and both nodes took part, taking turns
    served = _upstreams(cluster.nginx.folder)[served_before:]
    nodes = {f"127.0.0.1:{node.base.rsplit(':', 1)[1]}" for node in cluster.nodes}
    assert set(served) == nodes, served
    assert sum(a != b for a, b in zip(served, served[1:], strict=False)) >= len(served) // 2


def test_a_client_assertion_replayed_on_the_other_node_is_refused(cluster: Cluster) -> None:
    client_id, private = cluster.agencies["ngo"]
    one = assertion(client_id, private, aud=cluster.base)
    body = urllib.parse.urlencode(token_form(one)).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    first, _ = cluster.call("POST", f"{cluster.nodes[0].base}/api/v1/auth/token", body, headers)
    assert first == 200
    again, answer = cluster.call("POST", f"{cluster.nodes[1].base}/api/v1/auth/token", body, headers)
    assert (again, answer["error"]) == (401, "invalid_client"), answer
    reasons = cluster.sql("SELECT reason FROM audit_events WHERE action = 'auth:token' AND outcome = 'denied'")
    assert ("replayed_jti",) in [tuple(row) for row in reasons]


def test_a_write_signature_replayed_on_the_other_node_is_refused(cluster: Cluster) -> None:
    client = cluster.sdk(cluster.agencies["ngo"])
    token = client.token()
    payload = canonical(adult())
    signature = sign_detached(payload, cluster.agencies["ngo"][1], "POST", "/api/v1/forms")

    def submit(node: Server) -> tuple[int, Any]:
        return cluster.call("POST", f"{node.base}/api/v1/forms", payload, {
            **bearer(token), "Content-Type": "application/json", "X-JWS-Signature": signature,
            "Idempotency-Key": str(uuid.uuid4())})

    assert submit(cluster.nodes[0])[0] == 201
    status, problem = submit(cluster.nodes[1])
    assert (status, problem["type"]) == (401, "urn:nrm:problem:signature-jti-reused"), problem


def test_sign_in_limits_are_shared_by_the_nodes(cluster: Cluster) -> None:
    user = cluster.users["caseworker"]

    def login(node: Server, password: str) -> int:
        body = json.dumps({"username": user["username"], "password": password}).encode()
        return cluster.call("POST", f"{node.base}/api/v1/auth/login", body, {"Content-Type": "application/json"})[0]

    # five failures for the account from this address, taking turns: the fifth fills the window
    assert [login(cluster.nodes[n % 2], "wrong password") for n in range(5)] == [401] * 5
    # the right password is now refused on either node, and through nginx
    assert login(cluster.nodes[0], user["password"]) == 429
    assert login(cluster.nodes[1], user["password"]) == 429
    # the windows are in Redis (the nodes' shared store), not in the database
    assert cluster.redis.dbsize() > 0
    assert cluster.sql("SELECT count(*) FROM login_throttle")[0][0] == 0


def test_a_key_rotation_on_one_node_is_seen_by_the_other(cluster: Cluster) -> None:
    ngo = cluster.agencies["ngo"]
    before = cluster.sdk(ngo, cluster.nodes[0].base).submit_form(adult())["id"]
    version = int(cluster.sql("SELECT max(kek_version) FROM form_keys")[0][0])
    rotated = cluster.nodes[0].cli("keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    # the other node wraps its next form's key with the new KEK, without a restart
    after = cluster.sdk(ngo, cluster.nodes[1].base).submit_form(adult())["id"]
    wrapped = dict(cluster.sql("SELECT form_id, kek_version FROM form_keys WHERE form_id IN (:a, :b)",
                               a=before, b=after))
    assert wrapped == {before: version, after: version + 1}
    # and each node reads both
    for node in cluster.nodes:
        for form_id in (before, after):
            assert cluster.sdk(ngo, node.base).read_form(form_id)["withheld"] == []


def test_a_token_revoked_on_one_node_is_refused_by_the_other(cluster: Cluster) -> None:
    user = cluster.users["auditor"]
    body = json.dumps({"username": user["username"], "password": user["password"]}).encode()
    status, answer = cluster.call("POST", f"{cluster.base}/api/v1/auth/login", body,
                                  {"Content-Type": "application/json"})
    assert status == 200, answer
    token = answer["access_token"]
    for node in cluster.nodes:
        assert cluster.call("GET", f"{node.base}/api/v1/audit/checkpoints", headers=bearer(token))[0] == 200
    assert cluster.call("POST", f"{cluster.nodes[0].base}/api/v1/auth/revoke", headers=bearer(token))[0] == 204
    refused, problem = cluster.call("GET", f"{cluster.nodes[1].base}/api/v1/audit/checkpoints", headers=bearer(token))
    assert refused == 401, problem


# --- faults --------------------------------------------------------------------------------------

def _descendants(pid: int) -> list[int]:
    """``pid``'s children, their children, and so on (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_9(node: Server) -> None:
    """SIGKILL the node's gunicorn master, its workers, its sequencer and deliverer: no goodbye."""
    assert node.process is not None
    everything = [node.process.pid, *_descendants(node.process.pid)]
    for pid in everything:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    node.process.wait(timeout=10)
    node.process = None


@dataclass
class Tally:
    """What the clients saw."""

    acknowledged: dict[str, str] = field(default_factory=dict)  # idempotency key -> form id
    errors: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _submitter(cluster: Cluster, principal: tuple[str, dict[str, str]], forms: int, tally: Tally) -> None:
    """Submit ``forms`` forms, each under its own Idempotency-Key, retrying each on any error."""
    client = cluster.sdk(principal)
    for _ in range(forms):
        key = str(uuid.uuid4())
        deadline = time.monotonic() + 60
        while True:
            try:
                form_id = client.submit_form(adult(), idempotency_key=key)["id"]
            except (NrmError, OSError, ValueError) as error:  # ValueError: nginx's own 502 page is no JSON
                with tally.lock:
                    tally.errors.append(type(error).__name__ + (f" {error.status}" if isinstance(error, NrmError)
                                                                else ""))
                if time.monotonic() > deadline:
                    with tally.lock:
                        tally.gave_up.append(key)
                    break
                time.sleep(0.2)
                continue
            with tally.lock:
                tally.acknowledged[key] = form_id
            break


def test_a_node_killed_under_load_loses_no_acknowledged_form_and_doubles_none(cluster: Cluster) -> None:
    per_client = 6
    writers = cluster.writers
    agencies = [_agency(principal) for principal in writers]
    for principal in writers:  # tokens first: the load is submissions
        cluster.sdk(principal).token()
    tally = Tally()
    threads = [threading.Thread(target=_submitter, args=(cluster, principal, per_client, tally))
               for principal in writers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(tally.acknowledged) < len(writers) and time.monotonic() < deadline:
        time.sleep(0.05)
    victim = cluster.nodes[1]
    _kill_9(victim)
    for thread in threads:
        thread.join(timeout=120)
    stored = _forms_of(cluster, agencies)
    acknowledged = set(tally.acknowledged.values())
    found = acknowledged & set(stored)
    # every submission was acknowledged in the end (none gave up): any other form is one done twice
    duplicated = len(set(stored) - acknowledged)
    print(f"\nkill -9 of one node under load: attempted {per_client * len(writers)}, acknowledged {len(acknowledged)}, "
          f"found {len(found)}, duplicated {duplicated}, stored {len(stored)}, gave up {len(tally.gave_up)}, "
          f"errors seen and retried {len(tally.errors)} ({sorted(set(tally.errors))})")
    try:
        assert not tally.gave_up
        assert len(acknowledged) == len(tally.acknowledged) == per_client * len(writers)
        assert found == acknowledged  # every acknowledged form is there
        assert duplicated == 0 and set(stored) == acknowledged  # once, and nothing unacknowledged beside
    finally:
        victim.start(workers=1)


def _forms_of(cluster: Cluster, agencies: list[str]) -> list[str]:
    return [row[0] for row in cluster.sql("SELECT id FROM forms WHERE agency_id = ANY(:agencies)",
                                          agencies=agencies)]


def _terminate_connections(cluster: Cluster) -> int:
    """Terminate every connection to the cluster's database but this one; how many there were."""
    rows = cluster.sql("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    return int(rows[0][0])


def _loader(cluster: Cluster, principal: tuple[str, dict[str, str]], stop: threading.Event,
            seen: list[tuple[str, float]], lock: threading.Lock) -> None:
    """Submit and list, through nginx, until told to stop; each answer (or failure) and how long it took."""
    client = cluster.sdk(principal)
    turn = 0
    while not stop.is_set():
        turn += 1
        started = time.monotonic()
        try:
            if turn % 2:
                client.submit_form(adult())
                outcome = "201"
            else:
                client.referrals(direction="outgoing")
                outcome = "200"
        except NrmError as error:
            outcome = f"{error.status} {error.problem.get('type')}"
        except ValueError:
            outcome = "not-json"  # nginx's own error page
        except OSError as error:
            outcome = f"no-answer:{type(error).__name__}"
        with lock:
            seen.append((outcome, time.monotonic() - started))
        if outcome not in ("200", "201"):
            time.sleep(0.1)


def test_database_connections_terminated_mid_load_fail_cleanly_and_the_service_recovers(cluster: Cluster) -> None:
    writers = cluster.writers[:4]
    for principal in writers:
        cluster.sdk(principal).token()
    stop, lock, seen = threading.Event(), threading.Lock(), []
    threads = [threading.Thread(target=_loader, args=(cluster, principal, stop, seen, lock)) for principal in writers]
    for thread in threads:
        thread.start()
    terminated = []
    try:
        time.sleep(1)
        for _ in range(3):
            terminated.append(_terminate_connections(cluster))
            time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=REQUEST_SECONDS * 3)
    outcomes: dict[str, int] = {}
    for outcome, _ in seen:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    slowest = max(seconds for _, seconds in seen)
    print(f"\npg_terminate_backend x3 under load: connections terminated {terminated}, answers {outcomes}, "
          f"slowest {slowest:.2f} s")
    assert sum(terminated) > 0
    assert slowest < REQUEST_SECONDS
    # each request succeeded or was told 503 problem+json
    assert set(outcomes) <= {"200", "201", "503 urn:nrm:problem:unavailable"}, outcomes
    # the service recovers with no restart: both nodes write again, and their sequencers drain the queue
    for node in cluster.nodes:
        assert cluster.call("GET", f"{node.base}/readyz")[0] == 200
        assert cluster.sdk(writers[0], node.base).submit_form(adult())["id"]
    deadline = time.monotonic() + 30
    while cluster.sql("SELECT count(*) FROM audit_queue")[0][0] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cluster.sql("SELECT count(*) FROM audit_queue")[0][0] == 0
