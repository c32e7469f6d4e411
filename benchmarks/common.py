"""Shared pieces of the benchmarks: a throwaway PostgreSQL database, an app on it, figures."""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask

from nrm_api import create_app
from nrm_api.crypto.keyring import Keyring
from tests.databases import postgres_database as new_postgres_database

SERVER = os.environ.get("NRM_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
#: ``BENCH_QUICK=1``: fewer requests and events, for a first look in a minute or two.
QUICK = os.environ.get("BENCH_QUICK") == "1"


def sized(variable: str, full: int, quick: int) -> int:
    """A benchmark's size: ``variable`` from the environment, else ``quick`` under ``BENCH_QUICK=1``, else ``full``."""
    return int(os.environ.get(variable, quick if QUICK else full))


def figure(bench: str, **values: Any) -> None:
    """Print one line of figures as JSON: what a script reads."""
    print(json.dumps({"bench": bench, **values}), flush=True)


def note(message: str) -> None:
    """Progress, for people, on standard error."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards (the tests' own helper)."""
    with new_postgres_database(SERVER, "nrm_bench") as url:
        yield url


@contextmanager
def bench_app(database_url: str) -> Iterator[tuple[Flask, Path]]:
    """An app on ``database_url`` with a throwaway keyring; the sequencer runs only when asked."""
    with tempfile.TemporaryDirectory() as scratch:
        ring = Keyring.create(Path(scratch) / "keyring.json")
        app = create_app({"SECRET_KEY": secrets.token_urlsafe(32), "KEYRING": str(ring.path),
                          "DATABASE_URL": database_url, "BASE_URL": "http://bench.local",
                          "AUDIT_SEQUENCER_INTERVAL": 0})
        yield app, ring.path


def percentile(samples: list[float], fraction: float) -> float:
    """The ``fraction`` percentile of ``samples`` (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]
