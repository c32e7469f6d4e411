"""Where a request's CPU goes: a sampling profile of ``benchmarks.request_path``, split by library.

``python -m benchmarks.cpu_split`` runs ``benchmarks.request_path --top 0`` (submit, read, refer,
move and the plain baseline's submit and read, in process) under py-spy, a sampling profiler:
unlike cProfile it does not slow Python's own calls, so its shares are the real ones. For each
operation it keeps the samples of its requests, sets apart those waiting for PostgreSQL, and splits
the rest two ways:

- by the library of the innermost frame (SQLAlchemy, psycopg, PyJWT, marshmallow, nrm_api …): what
  each layer costs of its own;
- by the step of the request it is under (the token, the write signature, validation, sealing, the
  form's rows, the audit event, idempotency …), each including whatever libraries it calls.

One JSON line for each operation on standard output. Needs ``py-spy`` (the ``bench`` extra) and the
PostgreSQL server the other benchmarks use.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import figure, note

#: Each operation's requests, by the benchmark's call that sends one (the token check, the view, the
#: answer and the test client's own work on the request are all under it).
OPERATIONS = {"submit": "Bench.submits.<locals>.<listcomp>.<lambda> (",
              "read": "Bench.reads.<locals>.<listcomp>.<lambda> (",
              "refer": "Bench.refers.<locals>.<listcomp>.<lambda> (", "move": "Bench.moves.<locals>.<lambda> (",
              "baseline_submit": "Bench.baseline.<locals>.<listcomp>.<lambda> (",
              "baseline_read": "Bench.baseline.<locals>.<lambda>.<locals>.<listcomp>.<lambda> ("}
#: Frames that mean the thread is waiting for PostgreSQL (the socket), not computing.
WAITING = ("Connection.wait (psycopg", "_send_query_prepared (psycopg", "_execute_send (psycopg")
#: A library by the path of a frame's file; the first that matches.
LIBRARIES = [("sqlalchemy/", "SQLAlchemy"), ("psycopg", "psycopg"), ("jwt/", "PyJWT"),
             ("flask_jwt_extended/", "flask-jwt-extended"), ("joserfc/", "joserfc"),
             ("cryptography/", "cryptography"), ("marshmallow/", "marshmallow"), ("flask_smorest/", "flask-smorest"),
             ("werkzeug/", "Werkzeug"), ("flask/", "Flask"), ("json/", "json (stdlib)"), ("nrm_api/", "nrm_api"),
             ("benchmarks/", "the benchmark's client")]
#: The steps of a request, by a frame under which the work happens; the innermost named step wins.
STEPS = [("token: decode and checks (flask-jwt-extended, PyJWT)", "_decode_jwt_from_config (flask_jwt_extended"),
         ("token: the standing's query", "_is_revoked (nrm_api/accounts/tokens.py"),
         ("write signature: JWS verify", "verify_detached (nrm_api/crypto/jws.py"),
         ("write signature: its jti recorded", "_use_jti (nrm_api/accounts/signing.py"),
         ("idempotency record", "(nrm_api/idempotency/service.py"),
         ("document validation (marshmallow)", "validate_document (nrm_api/forms/service.py"),
         ("sealing: data key and field encryption", "(nrm_api/forms/sealing.py"),
         ("possible duplicates query", "_duplicates (nrm_api/forms/service.py"),
         ("ORM flush of the new rows", "Session.flush (sqlalchemy/orm/session.py"),
         ("audit event insert", "_write_pending (nrm_api/audit/events.py"),
         ("receipt signature", "receipt (nrm_api/writes.py"),
         ("form load", "load (nrm_api/forms/service.py"),
         ("opening fields", "(nrm_api/forms/disclosure.py"),
         ("answer: marshalling", "Schema.dump (marshmallow")]
REST = "the rest (Flask, routing, our views and checks)"


def split(raw: Path, marker: str) -> dict[str, object]:
    """Shares of the operation's samples in a py-spy raw (collapsed) profile."""
    total = waiting = 0
    libraries: collections.Counter[str] = collections.Counter()
    steps: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, samples = stack.split(";"), int(count)
        if not any(marker in frame for frame in frames):
            continue
        total += samples
        if any(wait in frame for frame in frames for wait in WAITING):
            waiting += samples
            continue
        leaf = frames[-1]
        libraries[next((name for part, name in LIBRARIES if part in leaf), "other (stdlib, Python)")] += samples
        step = REST
        for frame in frames:  # outermost first: the last match is the innermost
            step = next((name for name, part in STEPS if part in frame), step)
        steps[step] += samples
    computing = total - waiting
    if not computing:
        raise SystemExit(f"no samples of {marker!r}: is the operation's function still called that?")
    return {"samples": total, "waiting_for_postgresql_share": round(waiting / total, 3),
            "by_library": {name: round(count / computing, 3) for name, count in libraries.most_common()},
            "by_step": {name: round(count / computing, 3) for name, count in steps.most_common()}}


def main() -> None:
    """Profile the operations and print each one's split."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=250, help="samples per second (py-spy's --rate)")
    parser.add_argument("--raw", help="keep py-spy's raw profile here (collapsed stacks, e.g. for a flame graph)")
    args = parser.parse_args()
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(args.raw) if args.raw else Path(scratch) / "profile.txt"
        note(f"benchmarks.request_path under py-spy ({args.rate} samples/s) …")
        subprocess.run([str(spy), "record", "--rate", str(args.rate), "--format", "raw", "--output", str(raw),  # noqa: S603
                        "--", sys.executable, "-m", "benchmarks.request_path", "--top", "0"],
                       check=True, stdout=subprocess.DEVNULL, env=os.environ)
        for operation, marker in OPERATIONS.items():
            figure(f"cpu_split.{operation}", **split(raw, marker))


if __name__ == "__main__":
    main()
