"""Where a request's time goes: cProfile of in-process submits, reads and referral writes on PostgreSQL.

``python -m benchmarks.request_path [submit|read|refer|move] [--top N]``: the app through Flask's test
client (no HTTP server, so the profile is the request path alone) on a throwaway database, with
the SQL statements and ORM flushes each request costs counted by SQLAlchemy events. Prints the
counts as one JSON line per operation and, on standard error, the top of the profile of the one
asked for (``--top 0``: counts only).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from nrm_api.accounts import admin
from nrm_api.agencies import service as agencies
from nrm_api.audit.actor import Actor
from nrm_api.client import NrmClient
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jose import generate_private_jwk, public_half
from nrm_api.crypto.jws import sign_detached

from . import baseline
from .common import bench_app, figure, note, postgres_database, sized
from .forms import _document

REQUESTS = sized("BENCH_PROFILE_REQUESTS", 300, 150)
BASE = "http://bench.local"


class Counts:
    """SQL statements (by their first words) and ORM flushes, while ``on``."""

    def __init__(self) -> None:
        self.on, self.thread = False, threading.get_ident()
        self.statements: Counter[str] = Counter()
        self.flushes = 0
        self.wall = self.cpu = 0.0
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Session, "before_flush", self._flush)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.on and threading.get_ident() == self.thread:  # not the background workers'
            self.statements[" ".join(statement.split()[:4])[:80]] += 1

    def _flush(self, *_: Any) -> None:
        if self.on and threading.get_ident() == self.thread:
            self.flushes += 1


def _transport(http: FlaskClient) -> Any:
    def send(method: str, url: str, headers: Any, body: bytes | None) -> tuple[int, Any, bytes]:
        response = http.open(url.replace(BASE, ""), method=method, headers=dict(headers), data=body)
        return response.status_code, dict(response.headers), response.get_data()
    return send


def _signed(private: dict[str, str], body: dict[str, Any], method: str, path: str) -> tuple[bytes, dict[str, str]]:
    payload = canonical(body)
    return payload, {"X-JWS-Signature": sign_detached(payload, private, method, path),
                     "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}


class Bench:
    """An NGO and a ministry with one system each, and prepared requests for each operation."""

    def __init__(self, app: Flask) -> None:
        self.app, self.http = app, app.test_client()
        self.keys = {name: generate_private_jwk() for name in ("ngo", "moi")}
        with app.app_context():
            operator = Actor("cli:bench", role="operator")
            agencies.add_agency(operator, "bench-ngo", kind="ngo", name_en="Bench NGO")
            agencies.add_agency(operator, "bench-moi", kind="authority", name_en="Bench Ministry")
            for name, private in self.keys.items():
                admin.add_client(operator, f"bench-{name}", f"bench-{name}-system", public_half(private))
        self.tokens = {name: NrmClient(BASE, f"bench-{name}-system", private, _transport(self.http)).token()
                       for name, private in self.keys.items()}

    def call(self, who: str, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None, expect: int = 200) -> Any:
        """One request as ``who``'s system; its JSON answer, or an error if the status is not ``expect``."""
        response = self.http.open(path, method=method, data=body,
                                  headers={"Authorization": f"Bearer {self.tokens[who]}", **(headers or {})})
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.get_data()[:300]!r}")
        return response.get_json()

    def submits(self, count: int) -> list[Callable[[], Any]]:
        """Signed submits of ``count`` forms, each returning the form's id."""
        prepared = [_signed(self.keys["ngo"], _document(n), "POST", "/api/v1/forms") for n in range(count)]
        return [lambda p=p, h=h: self.call("ngo", "POST", "/api/v1/forms", p, h, 201)["id"] for p, h in prepared]

    def baseline(self, count: int) -> tuple[list[Callable[[], Any]], Callable[[list[str]], list[Callable[[], Any]]]]:
        """The plain baseline's submits, and its reads of the ids they return, on the same database."""
        os.environ["NRM_DATABASE_URL"] = self.app.config["DATABASE_URL"]
        plain = baseline.create_app().test_client()

        def call(method: str, path: str, body: bytes | None, expect: int) -> Any:
            response = plain.open(path, method=method, data=body, headers={"Content-Type": "application/json"})
            if response.status_code != expect:
                raise RuntimeError(f"{method} {path}: {response.status_code}")
            return response.get_json()

        bodies = [canonical(_document(n)) for n in range(count)]
        submits = [lambda b=b: call("POST", "/baseline/forms", b, 201)["id"] for b in bodies]
        return submits, lambda ids: [lambda i=i: call("GET", f"/baseline/forms/{i}", None, 200) for i in ids]

    def reads(self, ids: list[str]) -> list[Callable[[], Any]]:
        """A read of each form."""
        return [lambda i=i: self.call("ngo", "GET", f"/api/v1/forms/{i}") for i in ids]

    def refers(self, form_ids: list[str]) -> list[Callable[[], Any]]:
        """A signed referral of each form to the ministry, each returning the referral's id."""
        prepared = [_signed(self.keys["ngo"], {"form_id": i, "to_agency": "bench-moi", "purpose": "identification"},
                            "POST", "/api/v1/referrals") for i in form_ids]
        return [lambda p=p, h=h: self.call("ngo", "POST", "/api/v1/referrals", p, h, 201)["id"] for p, h in prepared]

    def moves(self, referral_ids: list[str]) -> list[Callable[[], Any]]:
        """The ministry's signed status change of each referral to received."""
        calls = []
        for rid in referral_ids:
            path = f"/api/v1/referrals/{rid}/status"
            payload, headers = _signed(self.keys["moi"], {"status": "received"}, "POST", path)
            headers = {**headers, "If-Match": '"1"'}
            calls.append(lambda p=payload, h=headers, path=path: self.call("moi", "POST", path, p, h))
        return calls


def _run(calls: list[Callable[[], Any]], counts: Counts, profile: cProfile.Profile | None) -> list[Any]:
    counts.statements.clear()
    counts.flushes, counts.on = 0, True
    if profile is not None:
        profile.enable()
    began, cpu = time.perf_counter(), time.process_time()
    results = [call() for call in calls]
    counts.wall, counts.cpu = time.perf_counter() - began, time.process_time() - cpu
    if profile is not None:
        profile.disable()
    counts.on = False
    return results


def _report(name: str, counts: Counts, requests: int) -> None:
    figure(f"profile.{name}", requests=requests, wall_ms=round(counts.wall * 1000 / requests, 2),
           cpu_ms=round(counts.cpu * 1000 / requests, 2),
           statements_per_request=round(sum(counts.statements.values()) / requests, 2),
           flushes_per_request=round(counts.flushes / requests, 2),
           statements={k: round(v / requests, 2) for k, v in counts.statements.most_common()})


def main() -> None:
    """Profile one operation (all are counted) and print the counts and the profile's top."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("operation", nargs="?", default="submit", choices=("submit", "read", "refer", "move"))
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--out", help="also write the profile here (pstats), e.g. for snakeviz")
    args = parser.parse_args()
    with postgres_database() as url, bench_app(url) as (app, _ring):
        bench = Bench(app)
        counts = Counts()
        for call in bench.submits(5):  # warm: first-use costs (schemas, keys, caches) are not the request's
            call()
        wanted = args.top or args.out  # CPU time, not wall: the machine is shared, waits are not ours to count
        profiles = {name: cProfile.Profile(time.process_time) if args.operation == name and wanted else None
                    for name in ("submit", "read", "refer", "move")}
        note(f"{REQUESTS} of each: submit, read, refer, move")
        ids = _run(bench.submits(REQUESTS), counts, profiles["submit"])
        _report("submit", counts, REQUESTS)
        _run(bench.reads(ids), counts, profiles["read"])
        _report("read", counts, REQUESTS)
        referral_ids = _run(bench.refers(ids), counts, profiles["refer"])
        _report("refer", counts, REQUESTS)
        _run(bench.moves(referral_ids), counts, profiles["move"])
        _report("move", counts, REQUESTS)
        plain_submits, plain_reads = bench.baseline(REQUESTS)
        plain_ids = _run(plain_submits, counts, None)
        _report("baseline_submit", counts, REQUESTS)
        _run(plain_reads(plain_ids), counts, None)
        _report("baseline_read", counts, REQUESTS)
        app.extensions["nrm_audit_background"].stop()
        app.extensions["nrm_webhook_worker"].stop()
        chosen = profiles[args.operation]
        if chosen is not None and args.out:
            chosen.dump_stats(args.out)
        if chosen is not None and args.top:
            out = io.StringIO()
            pstats.Stats(chosen, stream=out).strip_dirs().sort_stats(args.sort).print_stats(args.top)
            note(out.getvalue())


if __name__ == "__main__":
    main()
