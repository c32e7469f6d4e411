"""Audit log benchmarks (`make bench`): each figure printed as one JSON line.

Name parts on the command line (``sequencer``, ``capacity``, ``verify``, ``query``; all but
``capacity`` by default, which ``sequencer`` includes); ``BENCH_QUICK=1`` for smaller sizes.

- sequencer: 8 writer threads commit audited transactions on PostgreSQL while the sequencer runs;
  events sequenced per second, wall time until the last one has its position. Then its capacity:
  16,000 events queued (``BENCH_CAPACITY_EVENTS``), sequenced by one run.
- verify: offline verification of a bundle of 1 M events (``BENCH_VERIFY_EVENTS``).
- export: ``nrm-api audit export --format jsonl`` over 1 M events, events/s and the peak RSS of
  that process (flat memory at any size).
- query: p50/p99 of ``GET /audit/events?resource=…`` over 10 M bulk-loaded events
  (``BENCH_QUERY_EVENTS``).
"""

from __future__ import annotations

import base64
import cProfile
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from nrm_api.audit import bundle, events, merkle, notes, queries, sequencer
from nrm_api.audit import log as audit_log
from nrm_api.audit.actor import Actor
from nrm_api.audit.models import AuditLeaf
from nrm_api.audit.verify import Frontier
from nrm_api.crypto.keyring import SigningKey
from nrm_api.extensions import db

from .common import bench_app, figure, note, percentile, postgres_database, sized

WRITERS = 8
PER_WRITER = sized("BENCH_SEQUENCER_EVENTS_PER_WRITER", 2000, 250)
VERIFY_EVENTS = sized("BENCH_VERIFY_EVENTS", 1_000_000, 100_000)
QUERY_EVENTS = sized("BENCH_QUERY_EVENTS", 10_000_000, 100_000)
EXPORT_EVENTS = min(QUERY_EVENTS, sized("BENCH_EXPORT_EVENTS", 1_000_000, 100_000))
QUERIES = sized("BENCH_QUERIES", 2000, 200)
CAPACITY_EVENTS = sized("BENCH_CAPACITY_EVENTS", 16_000, 5_000)
#: ``BENCH_PROFILE=1``: run the measured part under cProfile and print its top on standard error
#: (the figures are then the profiled ones, marked ``profiled``: for finding costs, not for reporting).
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
PROFILE_OUT = Path(tempfile.gettempdir()) / "nrm-bench-audit.prof"
#: The bars of issue 12, in events per second.
TARGETS = {"audit.verify_offline": 500_000, "audit.export_jsonl": 100_000, "audit.sequencer_capacity": 30_000}


def throughput(bench: str, events: int, seconds: float, **values: object) -> None:
    """Print a figure in events per second, with its bar and whether it holds."""
    rate = events / seconds
    if PROFILE:
        values["profiled"] = True
    figure(bench, events=events, events_per_s=round(rate, 1), target_events_per_s=TARGETS[bench],
           meets_target=rate >= TARGETS[bench], seconds=round(seconds, 2), **values)


def _profile_top() -> None:
    pstats.Stats(str(PROFILE_OUT), stream=sys.stderr).sort_stats("tottime").print_stats(25)


def _nrm_api(*args: str) -> list[str]:
    """The command line ``nrm-api ARGS`` as this interpreter runs it (under cProfile with ``BENCH_PROFILE=1``)."""
    profiler = ["-m", "cProfile", "-o", str(PROFILE_OUT)] if PROFILE else []
    return [sys.executable, *profiler, "-m", "nrm_api.cli", *args]


def bench_sequencer(url: str) -> None:
    """Eight writers and one sequencer thread, on PostgreSQL."""
    with bench_app(url) as (app, _):
        done = threading.Event()
        sequenced = 0

        def writer(number: int) -> None:
            with app.app_context(), Session(db.engine) as session:
                actor = Actor(f"user:bench-{number}", "moi", "caseworker", None, "127.0.0.1")
                for n in range(PER_WRITER):
                    events.record(actor, "bench:event", "allowed", resource=f"bench:{number}:{n}", session=session)
                    session.commit()

        def sequencing() -> None:
            nonlocal sequenced
            with app.app_context(), Session(db.engine) as session:
                signer = audit_log.signer()
                while not done.is_set() or sequenced < WRITERS * PER_WRITER:
                    count = sequencer.run(session, signer)
                    sequenced += count
                    if not count:
                        time.sleep(0.002)

        started = time.perf_counter()
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        runner = threading.Thread(target=sequencing)
        runner.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        writes_done = time.perf_counter() - started
        done.set()
        runner.join()
        elapsed = time.perf_counter() - started
        with app.app_context(), Session(db.engine) as session:
            gapless = list(session.scalars(select(AuditLeaf.seq).order_by(AuditLeaf.seq))) == list(range(sequenced))
        total = WRITERS * PER_WRITER
        figure("audit.sequencer", backend="postgresql", writers=WRITERS, events=total,
               events_per_s=round(total / elapsed, 1), writer_commits_per_s=round(total / writes_done, 1),
               lag_after_last_write_s=round(elapsed - writes_done, 3), gapless=gapless)
        bench_sequencer_capacity(app)


def bench_sequencer_capacity(app: object) -> None:
    """What one sequencer can do when the queue is full: 16,000 events queued, then sequenced alone."""
    backlog = CAPACITY_EVENTS
    with app.app_context(), Session(db.engine) as session:  # type: ignore[attr-defined]
        actor = Actor("user:bench-backlog", "moi", "caseworker", None, "127.0.0.1")
        for n in range(backlog):
            events.record(actor, "bench:event", "allowed", resource=f"backlog:{n}", session=session)
            if n % 100 == 99:
                session.commit()
        session.commit()
        signer, profile = audit_log.signer(), cProfile.Profile()
        started, cpu = time.perf_counter(), time.process_time()
        count = profile.runcall(sequencer.run, session, signer) if PROFILE else sequencer.run(session, signer)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    # the CPU is this process's alone, PostgreSQL's not counted
    throughput("audit.sequencer_capacity", count, elapsed, backend="postgresql", cpu_s=round(cpu, 2),
               events_per_cpu_s=round(count / cpu, 1))
    if PROFILE:
        profile.dump_stats(PROFILE_OUT)
        _profile_top()


def _synthetic_bundle(path: Path, count: int) -> None:
    """A bundle written with the sequencer's own primitives: canonical events, signed positions, checkpoints.

    Streamed to disk, so this process stays small: a child forked from it starts with its pages.
    """
    key = SigningKey.from_seed(os.urandom(32))
    public = base64.urlsafe_b64decode(key.public_jwk()["x"] + "=")
    origin = "bench.local/audit-log"
    tree = Frontier()
    checkpoints: list[str] = []
    events_path = path.with_suffix(".events")
    with events_path.open("w") as events:
        for seq in range(count):
            body = (f'{{"action":"bench:event","actor":"user:bench","agency":"moi","client_address":"127.0.0.1",'
                    f'"fields":[],"occurred_at":"2026-11-23T00:00:00.000000+00:00","outcome":"allowed",'
                    f'"reason":null,"request_id":"r-{seq}","resource":"bench:{seq}"}}').encode()
            leaf = merkle.leaf_hash(body)
            signature = key.sign(notes.leaf_message(origin, seq, leaf))
            tree.append(leaf)
            events.write(json.dumps({"seq": seq, "event": base64.b64encode(body).decode(),
                                     "signature": base64.b64encode(signature).decode()}) + "\n")
            if (seq + 1) % sequencer.CHECKPOINT_EVERY == 0:
                checkpoints.append(notes.sign_checkpoint(origin, seq + 1, tree.root(), public, key.sign))
    with path.open("w") as out, events_path.open() as events:
        out.write(json.dumps({"format": bundle.FORMAT, "origin": origin, "keys": [key.public_jwk()]}) + "\n")
        for note_text in checkpoints:
            out.write(json.dumps({"checkpoint": note_text}) + "\n")
        shutil.copyfileobj(events, out)
    events_path.unlink()


def run_measured(args: list[str], env: dict[str, str] | None = None,
                 count_lines: bool = False) -> tuple[str, float, float]:
    """Run a command under GNU time; return its output (or line count), its own peak RSS in MiB and CPU seconds.

    The CPU seconds (user and system) are the command's own: on a shared machine they say what the
    wall clock would be on an idle core.

    ``time`` is a small process of its own: the command's peak is not that of this (large) one,
    whose pages a child forked straight from it would start with.
    """
    with tempfile.NamedTemporaryFile("r") as report:
        process = subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", "-o", report.name, *args], env=env,
                                   stdout=subprocess.PIPE)
        assert process.stdout is not None
        lines, chunks = 0, []
        for chunk in iter(lambda: process.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
            if count_lines:
                lines += chunk.count(b"\n")
            else:
                chunks.append(chunk)
        if process.wait() not in (0, 1):
            raise RuntimeError(f"{args[3:5]} exited {process.returncode}")
        peak_kib, user, system = report.read().strip().splitlines()[-1].split()
    output = str(lines) if count_lines else b"".join(chunks).decode()
    return output, round(int(peak_kib) / 1024, 1), float(user) + float(system)


def _timed_verify(path: Path) -> tuple[dict[str, object], float, float, float]:
    started = time.perf_counter()
    output, peak, cpu = run_measured(_nrm_api("audit", "verify", "--bundle", str(path)))
    return json.loads(output), time.perf_counter() - started, peak, cpu


def bench_verify() -> None:
    """Offline verification of a bundle, in a process of its own (its peak RSS is the verifier's).

    The figure is the whole command's, start-up included; ``startup_s`` is that of the same command
    on an empty bundle, and ``verifier_events_per_s`` what is left once it is taken away.
    """
    with tempfile.TemporaryDirectory() as scratch:
        path, empty = Path(scratch) / "bench.bundle", Path(scratch) / "empty.bundle"
        note(f"writing a bundle of {VERIFY_EVENTS:,} signed events …")
        _synthetic_bundle(path, VERIFY_EVENTS)
        _synthetic_bundle(empty, 0)
        startup = min(_timed_verify(empty)[1] for _ in range(3))
        report, elapsed, peak, cpu = _timed_verify(path)
        checked = int(str(report["events_checked"]))
        throughput("audit.verify_offline", checked, elapsed, valid=report["valid"], peak_rss_mib=peak,
                   cpu_s=round(cpu, 2), events_per_cpu_s=round(checked / cpu, 1), startup_s=round(startup, 2),
                   verifier_events_per_s=round(checked / max(elapsed - startup, 1e-9), 1))
        if PROFILE:
            _profile_top()


def _bulk_load(url: str, count: int) -> None:
    """COPY ``count`` events into ``audit_events``: 10 events per resource, one a minute."""
    import psycopg
    from sqlalchemy.engine import make_url

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    resources = max(1, count // 10)
    with psycopg.connect(plain) as connection, connection.cursor() as cursor:
        with cursor.copy("COPY audit_events (occurred_at, actor, agency, action, resource, fields, outcome, "
                         "request_id, client_address, body, sha256) FROM STDIN") as copy:
            for n in range(count):
                moment = start + timedelta(minutes=n)
                res = f"form:{n % resources:08d}"
                body = (f'{{"action":"form:read","actor":"user:u{n % 500}","agency":"a{n % 40}",'
                        f'"client_address":"10.0.0.1","fields":["person.name"],'
                        f'"occurred_at":"{moment.isoformat(timespec="microseconds")}","outcome":"allowed",'
                        f'"reason":null,"request_id":"r{n}","resource":"{res}"}}').encode()
                copy.write_row((moment, f"user:u{n % 500}", f"a{n % 40}", "form:read", res, '["person.name"]',
                                "allowed", f"r{n}", "10.0.0.1", body, merkle.leaf_hash(body).hex()))
                if n and n % 1_000_000 == 0:
                    note(f"  … {n:,} events loaded")
        connection.commit()
        cursor.execute("ANALYZE audit_events")


def bench_query_and_export(url: str) -> None:
    """Query latency by resource over the bulk-loaded log, and a streamed export of part of it."""
    note(f"bulk-loading {QUERY_EVENTS:,} events into PostgreSQL …")
    started = time.perf_counter()
    _bulk_load(url, QUERY_EVENTS)
    figure("audit.bulk_load", events=QUERY_EVENTS, seconds=round(time.perf_counter() - started, 1))
    resources = max(1, QUERY_EVENTS // 10)
    with bench_app(url) as (app, keyring_path):
        with app.app_context():
            rng = random.Random(7)
            samples = []
            for _ in range(QUERIES):
                wanted = {"resource": f"form:{rng.randrange(resources):08d}"}
                began = time.perf_counter()
                result = queries.page(db.session, wanted, None, 100)
                samples.append((time.perf_counter() - began) * 1000)
                assert result.items
                db.session.rollback()
            figure("audit.query_by_resource", events=QUERY_EVENTS, queries=QUERIES,
                   p50_ms=round(percentile(samples, 0.5), 3), p99_ms=round(percentile(samples, 0.99), 3))
        until = (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=EXPORT_EVENTS)).strftime("%Y-%m-%dT%H:%M:%S%z")
        env = {**os.environ, "NRM_DATABASE_URL": url, "NRM_KEYRING": str(keyring_path),
               "NRM_SECRET_KEY": "b" * 40, "NRM_AUDIT_SEQUENCER_INTERVAL": "0",
               "NRM_BASE_URL": "http://bench.local"}
        started = time.perf_counter()
        lines, peak, cpu = run_measured(_nrm_api("audit", "export", "--format", "jsonl", "--until", until), env=env,
                                        count_lines=True)
        elapsed = time.perf_counter() - started
        throughput("audit.export_jsonl", int(lines), elapsed, peak_rss_mib=peak, cpu_s=round(cpu, 2),
                   events_per_cpu_s=round(int(lines) / cpu, 1))
        if PROFILE:
            _profile_top()


def main() -> None:
    """Run the audit benchmarks named on the command line (all by default) on throwaway databases."""
    wanted = set(sys.argv[1:]) or {"sequencer", "verify", "query"}
    if "sequencer" in wanted:
        with postgres_database() as url:
            note("sequencer: 8 writers on PostgreSQL …")
            bench_sequencer(url)
    elif "capacity" in wanted:  # the full queue alone
        with postgres_database() as url, bench_app(url) as (app, _):
            bench_sequencer_capacity(app)
    if "verify" in wanted:
        bench_verify()
    if "query" in wanted:
        with postgres_database() as url:
            bench_query_and_export(url)


if __name__ == "__main__":
    main()
