"""Forms benchmark (`make bench`): protected submit and read beside a plain baseline.

Signed + field-encrypted + audited, against the same JSON stored plainly on the same stack, both
served by gunicorn on PostgreSQL; figures as JSON lines. Bodies are signed before the clock starts
(signing is the client's cost, not the service's). Each line carries the request workers' peak RSS;
``forms.scaling`` serves the protected app with 1, then 2 workers (``BENCH_SCALING_WORKERS``).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from nrm_api import create_app
from nrm_api.accounts import admin
from nrm_api.agencies import service as agencies
from nrm_api.audit.actor import Actor
from nrm_api.client import NrmClient
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jose import generate_private_jwk, public_half
from nrm_api.crypto.jws import sign_detached
from nrm_api.crypto.keyring import Keyring
from nrm_api.database import make_engine

from .common import figure, note, percentile, postgres_database, sized

SUBMITS = sized("BENCH_FORM_SUBMITS", 1500, 400)
READS = sized("BENCH_FORM_READS", 3000, 800)
#: Issue 12's bars (protected / plain), and what lies beyond them.
TARGETS = {"submit": (0.5, 0.7), "read": (0.6, 0.8)}
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
#: The scaling figure: the same protected submit and read with each of these worker counts.
SCALING = [int(n) for n in os.environ.get("BENCH_SCALING_WORKERS", "1,2").split(",") if n]
#: Issue 12's bound on a request worker's peak resident memory.
RSS_TARGET_MIB = 150
#: Untimed requests to each server before the clock starts (every worker's first ones), then it settles.
WARM_UP = 32
Request = tuple[str, str, bytes | None, dict[str, str]]
Loaded = tuple[float, list[float], list[bytes]]


def _document(number: int) -> dict[str, Any]:
    """The realistic form the tests submit, about a different person each time."""
    from tests.forms.helpers import adult

    document = adult()
    document["person"]["first_name"] = f"Olga{number}"
    return document


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"server on port {port} did not start")


class ServedCpu:
    """CPU seconds a served app spends (its processes and its PostgreSQL backends), from ``/proc``.

    On a shared machine the wall clock moves with everyone's load; the CPU each request costs the
    service and its database moves much less, and its ratio is the throughput ratio an idle machine
    would show. Linux only; the database on this machine (its backends are read from ``/proc`` too).
    """

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, server: subprocess.Popen[bytes], database_url: str) -> None:
        self.server = server.pid
        self.engine = make_engine(database_url)

    def _pids(self) -> dict[int, str]:
        """Every process of the app and every backend of the database, each with what it is."""
        kinds = {self.server: "app"}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and _ppid(int(entry.name)) == self.server:  # workers; the sequencer, deliverer
                command = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
                kinds[int(entry.name)] = "background" if b"sequence" in command or b"deliver" in command else "app"
        with self.engine.connect() as connection:  # every backend of the database: only this app works now
            for pid in connection.scalars(text("SELECT pid FROM pg_stat_activity "
                                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")):
                kinds[int(pid)] = "database"
        return kinds

    def measured(self, call: Callable[[], Loaded]) -> tuple[Loaded, dict[str, float]]:
        """What ``call`` returns, and the CPU seconds the app, its background workers and the database spent."""
        before = self.sample()
        result = call()
        after = self.sample()
        spent = {"app": 0.0, "background": 0.0, "database": 0.0}
        for pid, (kind, seconds) in after.items():  # a process started meanwhile counts whole
            spent[kind] += seconds - before.get(pid, (kind, 0.0))[1]
        return result, spent

    def peak_worker_rss_mib(self) -> float:
        """The largest peak resident set (``VmHWM``) of the app's request workers so far, in MiB."""
        workers = [pid for pid, kind in self._pids().items() if kind == "app" and pid != self.server]
        return round(max((_peak_rss_kib(pid) for pid in workers), default=0) / 1024, 1)

    def settle(self, quiet_cpu_s: float = 0.05, window_s: float = 0.5, limit_s: float = 60.0) -> None:
        """Wait until the app, its background processes and its database are idle.

        A worker, the sequencer or the deliverer still importing the app (1–2 CPU seconds each) would
        otherwise be counted as the cost of the first requests measured; so would a backlog of warm-up
        events the sequencer has yet to take. Idle: under ``quiet_cpu_s`` in all over ``window_s``.
        """
        deadline = time.monotonic() + limit_s
        before = self.sample()
        while time.monotonic() < deadline:
            time.sleep(window_s)
            after = self.sample()
            busy = sum(seconds - before.get(pid, (kind, 0.0))[1] for pid, (kind, seconds) in after.items())
            if busy < quiet_cpu_s:
                return
            before = after
        note("the served app did not settle: figures include its own start-up")

    def sample(self) -> dict[int, tuple[str, float]]:
        """CPU seconds so far of every process of the app and of the database's backends."""
        return {pid: (kind, _cpu(pid)) for pid, kind in self._pids().items()}


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _peak_rss_kib(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith("VmHWM:")), 0)


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / ServedCpu.TICK


def _load(port: int, requests: list[Request], expect: int) -> tuple[float, list[float], list[bytes]]:
    """Send ``requests`` from CONCURRENCY threads; return throughput, latencies (ms) and bodies."""
    queue = list(enumerate(requests))
    lock = threading.Lock()
    latencies: list[float] = []
    bodies: list[bytes] = [b""] * len(requests)
    failures: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                index, (method, path, body, headers) = queue.pop()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            began = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except OSError as error:  # a dropped connection is a failed request, not a silently dead client
                with lock:
                    failures.append(f"{type(error).__name__}: {error}")
                continue
            finally:
                connection.close()
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                latencies.append(elapsed)
                bodies[index] = data
                if response.status != expect:
                    failures.append(f"{response.status} {data[:200]!r}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, e.g. {failures[0]}")
    return len(requests) / (time.perf_counter() - started), latencies, bodies


def _warmed(port: int, requests: list[Request], expect: int, cpu: ServedCpu) -> list[bytes]:
    """Send ``requests`` untimed, then wait until the app is idle; return their answers.

    Every worker's first requests (lazy imports, connection pools) are not what a request costs.
    """
    bodies = _load(port, requests, expect)[2]
    cpu.settle()
    return bodies


def _report(name: str, protected: tuple[Loaded, dict[str, float]], plain: tuple[Loaded, dict[str, float]],
            peak_rss_mib: float) -> None:
    (rate, latencies, _), spent = protected
    (plain_rate, plain_latencies, _), plain_spent = plain
    cpu, plain_cpu = sum(spent.values()), sum(plain_spent.values())
    ratio, requests = rate / plain_rate, len(latencies)
    target, beyond = TARGETS[name]
    figure(f"forms.{name}", protected_per_s=round(rate, 1), baseline_per_s=round(plain_rate, 1),
           ratio=round(ratio, 3), target_ratio=target, meets_target=ratio >= target, beyond_ratio=beyond,
           meets_beyond=ratio >= beyond, protected_cpu_ms=round(cpu * 1000 / requests, 2),
           baseline_cpu_ms=round(plain_cpu * 1000 / requests, 2), cpu_ratio=round(plain_cpu / cpu, 3),
           **{f"protected_{kind}_cpu_ms": round(seconds * 1000 / requests, 2) for kind, seconds in spent.items()},
           **{f"baseline_{kind}_cpu_ms": round(seconds * 1000 / requests, 2) for kind, seconds in plain_spent.items()
              if kind != "background"},
           protected_p50_ms=round(percentile(latencies, 0.5), 2),
           protected_p99_ms=round(percentile(latencies, 0.99), 2),
           baseline_p50_ms=round(percentile(plain_latencies, 0.5), 2),
           baseline_p99_ms=round(percentile(plain_latencies, 0.99), 2),
           peak_worker_rss_mib=peak_rss_mib, target_rss_mib=RSS_TARGET_MIB,
           meets_rss_target=0 < peak_rss_mib < RSS_TARGET_MIB,
           requests=requests, concurrency=CONCURRENCY, workers=WORKERS)


def main() -> None:
    """Run both servers on one throwaway database and compare."""
    with postgres_database() as url, tempfile.TemporaryDirectory() as scratch:
        ring = Keyring.create(Path(scratch) / "keyring.json")
        env = {**os.environ, "NRM_DATABASE_URL": url, "NRM_KEYRING": str(ring.path),
               "NRM_SECRET_KEY": secrets.token_urlsafe(32)}
        port, plain_port = _free_port(), _free_port()
        env["NRM_BASE_URL"] = f"http://127.0.0.1:{port}"
        app = create_app({"DATABASE_URL": url, "KEYRING": str(ring.path), "SECRET_KEY": env["NRM_SECRET_KEY"],
                          "BASE_URL": env["NRM_BASE_URL"], "AUDIT_SEQUENCER_INTERVAL": 0})
        private = generate_private_jwk()
        with app.app_context():
            operator = Actor("cli:bench", role="operator")
            agencies.add_agency(operator, "bench-ngo", kind="ngo", name_en="Bench NGO")
            admin.add_client(operator, "bench-ngo", "bench-system", public_half(private))
        nrm = _serve([sys.executable, "-m", "nrm_api.cli", "serve", "--port", str(port), "--workers", str(WORKERS)],
                     env, port)
        plain = _serve([sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{plain_port}",
                        "benchmarks.baseline:create_app()"], env, plain_port)
        try:
            _compare(port, plain_port, private, ServedCpu(nrm, url), ServedCpu(plain, url))
        finally:
            for server in (nrm, plain):
                server.terminate()
                server.wait(timeout=30)
        _scaling(env, private)


def _scaling(env: dict[str, str], private: dict[str, str]) -> None:
    """The protected submit and read served by 1, then 2 workers: a lock on the request path shows as no gain."""
    rates: dict[int, dict[str, float]] = {}
    rss: dict[int, float] = {}
    for workers in SCALING:
        port = _free_port()
        served_env = {**env, "NRM_BASE_URL": f"http://127.0.0.1:{port}"}
        server = _serve([sys.executable, "-m", "nrm_api.cli", "serve", "--port", str(port), "--workers",
                         str(workers)], served_env, port)
        try:
            cpu = ServedCpu(server, env["NRM_DATABASE_URL"])
            token = NrmClient(f"http://127.0.0.1:{port}", "bench-system", private).token()
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            _warmed(port, _submits(token, private, WARM_UP, first=SUBMITS), 201, cpu)
            submits = _submits(token, private, SUBMITS // 2)
            note(f"{workers} worker(s): {len(submits)} submits, {READS // 2} reads …")
            submit_rate, _, bodies = _load(port, submits, 201)
            ids = [json.loads(body)["id"] for body in bodies]
            rng = random.Random(workers)
            reads: list[Request] = [("GET", f"/api/v1/forms/{rng.choice(ids)}", None, auth)
                                    for _ in range(READS // 2)]
            read_rate, _, _ = _load(port, reads, 200)
            rates[workers] = {"submit": submit_rate, "read": read_rate}
            rss[workers] = cpu.peak_worker_rss_mib()
        finally:
            server.terminate()
            server.wait(timeout=30)
    first, last = SCALING[0], SCALING[-1]
    figure("forms.scaling", workers=SCALING, concurrency=CONCURRENCY,
           **{f"{op}_per_s_{n}w": round(rates[n][op], 1) for n in SCALING for op in ("submit", "read")},
           **{f"{op}_gain": round(rates[last][op] / rates[first][op], 2) for op in ("submit", "read")},
           peak_worker_rss_mib={str(n): rss[n] for n in SCALING}, target_rss_mib=RSS_TARGET_MIB,
           meets_rss_target=all(0 < value < RSS_TARGET_MIB for value in rss.values()),
           note="two cores: a gain near 2 at 2 workers means no lock on the request path")


def _submits(token: str, private: dict[str, str], count: int, first: int = 0) -> list[Request]:
    """``count`` signed submits of different people, each with its own idempotency key (signed before the clock)."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    payloads = [canonical(_document(n)) for n in range(first, first + count)]
    return [("POST", "/api/v1/forms", payload, {
        **auth, "X-JWS-Signature": sign_detached(payload, private, "POST", "/api/v1/forms"),
        "Idempotency-Key": str(uuid.uuid4())}) for payload in payloads]


def _compare(port: int, plain_port: int, private: dict[str, str], cpu: ServedCpu, plain_cpu: ServedCpu) -> None:
    token = NrmClient(f"http://127.0.0.1:{port}", "bench-system", private).token()
    payloads = [canonical(_document(n)) for n in range(SUBMITS)]
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    submits = _submits(token, private, SUBMITS)
    plain_submits: list[Request] = [("POST", "/baseline/forms", payload, {"Content-Type": "application/json"})
                                    for payload in payloads]
    note(f"warming both up ({WARM_UP} submits and reads each) …")
    warm = _submits(token, private, WARM_UP, first=SUBMITS)
    warm_ids = [json.loads(body)["id"] for body in _warmed(port, warm, 201, cpu)]
    _warmed(port, [("GET", f"/api/v1/forms/{form_id}", None, auth) for form_id in warm_ids], 200, cpu)
    plain_warm = [json.loads(body)["id"] for body in _warmed(plain_port, plain_submits[:WARM_UP], 201, plain_cpu)]
    _warmed(plain_port, [("GET", f"/baseline/forms/{form_id}", None, {}) for form_id in plain_warm], 200, plain_cpu)
    note(f"submitting {SUBMITS} forms to each …")
    protected = cpu.measured(lambda: _load(port, submits, 201))
    plain = plain_cpu.measured(lambda: _load(plain_port, plain_submits, 201))
    _report("submit", protected, plain, cpu.peak_worker_rss_mib())
    ids = [json.loads(body)["id"] for body in protected[0][2]]
    plain_ids = [json.loads(body)["id"] for body in plain[0][2]]
    rng = random.Random(11)
    reads: list[Request] = [("GET", f"/api/v1/forms/{rng.choice(ids)}", None, auth) for _ in range(READS)]
    plain_reads: list[Request] = [("GET", f"/baseline/forms/{rng.choice(plain_ids)}", None, {})
                                  for _ in range(READS)]
    note(f"reading {READS} forms from each …")
    _report("read", cpu.measured(lambda: _load(port, reads, 200)),
            plain_cpu.measured(lambda: _load(plain_port, plain_reads, 200)), cpu.peak_worker_rss_mib())


if __name__ == "__main__":
    main()
