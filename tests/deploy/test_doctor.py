"""`nrm-api doctor` run for real: a sound setup, then each way of breaking it, one at a time.

Real PostgreSQL (a migrated database, an empty one, a port nobody listens on), the real Redis (a
database number of its own) and an unreachable one, a keyring file its group may read, settings
missing. Each broken setup exits non-zero and names the check that failed; no secret is printed.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nrm_api import doctor
from nrm_api.crypto.keyring import Keyring
from tests.databases import empty_database, postgres_database, postgres_server
from tests.serving import NRM_API, free_port

pytestmark = pytest.mark.skipif(postgres_server() is None, reason="PostgreSQL does not answer")

#: A Redis database number of this module's own.
REDIS_URL = "redis://127.0.0.1:6379/11"
CHECKS = ["configuration", "keyring", "database", "migrations", "clock", "redis"]


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with postgres_database(postgres_server() or "", "nrm_doctor") as url:
        yield url


@pytest.fixture(scope="module")
def empty_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with no migration applied."""
    with empty_database("postgresql", tmp_path_factory.mktemp("doctor")) as url:
        yield url


@pytest.fixture
def environment(tmp_path: Path, database_url: str) -> dict[str, str]:
    keyring = Keyring.create(tmp_path / "keyring.json").path
    env = {k: v for k, v in os.environ.items() if not k.startswith("NRM_")}
    env.update({"NRM_INSTANCE_PATH": str(tmp_path), "NRM_SECRET_KEY": secrets.token_urlsafe(48),
                "NRM_KEYRING": str(keyring), "NRM_DATABASE_URL": database_url,
                "NRM_BASE_URL": "https://nrm.example.by", "NRM_REDIS_URL": REDIS_URL})
    return env


def run_doctor(env: dict[str, str]) -> tuple[int, dict[str, str], str]:
    result = subprocess.run([NRM_API, "doctor"], env=env, capture_output=True, text=True, timeout=120, check=False)
    lines = result.stdout.splitlines()
    verdicts = {line.split(":", 1)[0].split()[1]: line.split()[0] for line in lines}
    assert list(verdicts) == CHECKS, result.stdout + result.stderr
    return result.returncode, verdicts, result.stdout + result.stderr


def test_a_sound_setup_passes_every_check(environment: dict[str, str]) -> None:
    status, verdicts, output = run_doctor(environment)
    assert status == 0, output
    assert set(verdicts.values()) == {"OK"}, output
    assert environment["NRM_SECRET_KEY"] not in output


def test_redis_unset_is_no_problem(environment: dict[str, str]) -> None:
    del environment["NRM_REDIS_URL"]
    status, verdicts, output = run_doctor(environment)
    assert status == 0 and verdicts["redis"] == "OK" and "not configured" in output, output


def _group_readable(env: dict[str, str]) -> None:
    Path(env["NRM_KEYRING"]).chmod(0o640)


def _no_secret(env: dict[str, str]) -> None:
    del env["NRM_SECRET_KEY"]


def _bad_metrics_allow(env: dict[str, str]) -> None:
    env["NRM_METRICS_ALLOW"] = "10.0.0.0/33"


def _no_database(env: dict[str, str]) -> None:
    env["NRM_DATABASE_URL"] = f"postgresql+psycopg://nrm:hunter2-db-password@127.0.0.1:{free_port()}/nrm"


def _no_redis(env: dict[str, str]) -> None:
    env["NRM_REDIS_URL"] = f"redis://:hunter2-redis-password@127.0.0.1:{free_port()}/0"


@pytest.mark.parametrize(("breaking", "failed"), [
    (_group_readable, {"keyring", "configuration"}), (_no_secret, {"configuration"}),
    (_bad_metrics_allow, {"configuration"}), (_no_database, {"database", "migrations", "clock"}),
    (_no_redis, {"redis"}),
])
def test_each_broken_setup_fails_its_check(environment: dict[str, str], breaking: object, failed: set[str]) -> None:
    breaking(environment)  # type: ignore[operator]
    status, verdicts, output = run_doctor(environment)
    assert status == 1, output
    assert {name for name, verdict in verdicts.items() if verdict == "FAIL"} <= failed, output
    assert failed - {"configuration"} <= {name for name, verdict in verdicts.items() if verdict == "FAIL"}, output
    assert "hunter2" not in output and "Traceback" not in output, output


def test_a_database_behind_the_code_fails_migrations(environment: dict[str, str], empty_database_url: str) -> None:
    environment["NRM_DATABASE_URL"] = empty_database_url
    status, verdicts, output = run_doctor(environment)
    assert status == 1 and verdicts["migrations"] == "FAIL" and verdicts["database"] == "OK", output
    assert "nrm-api db upgrade" in output


@pytest.mark.parametrize(("offset", "expected"), [(0.0, "ok"), (3.0, "ok"), (-4.9, "ok"), (6.0, "warn"),
                                                  (-30.0, "warn")])
def test_clock_skew_beyond_a_few_seconds_warns(offset: float, expected: str) -> None:
    now = datetime.now(UTC).timestamp()
    server = datetime.fromtimestamp(now, UTC) + timedelta(seconds=offset)
    assert doctor.skew(now - 0.01, server, now + 0.01).status == expected
