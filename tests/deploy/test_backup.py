"""`nrm-api backup` and `nrm-api restore` on both backends: the manifest, its checksums, the refusals."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nrm_api.crypto.keyring import Keyring
from tests.conftest import _backends
from tests.databases import database, empty_database
from tests.serving import NRM_API


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NRM_API, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def _env(folder: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NRM_")}
    env.update({"NRM_INSTANCE_PATH": str(folder), "NRM_DATABASE_URL": url})
    return env


def _count(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608
    finally:
        engine.dispose()


@pytest.fixture(params=_backends())
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database with an agency in it (the CLI adds it, audited)."""
    with database(request.param, tmp_path, "nrm_backup") as url:
        keyring = Keyring.create(tmp_path / "keyring.json").path
        env = {**_env(tmp_path, url), "NRM_KEYRING": str(keyring), "NRM_SECRET_KEY": uuid.uuid4().hex * 2,
               "NRM_BASE_URL": "https://nrm.test"}
        added = _cli(env, "agency", "add", "backup-ngo", "--kind", "ngo", "--name", "Backup NGO",
                     "--region", "Minsk")
        assert added.returncode == 0, added.stderr
        yield url


def test_a_backup_restores_into_an_empty_database_and_is_migrated(source: str, tmp_path: Path) -> None:
    backend = make_url(source).get_backend_name()
    out = tmp_path / "backup"
    made = _cli(_env(tmp_path, source), "backup", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert "keyring is not in it" in made.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backend"] == backend and manifest["migration_head"]
    assert manifest["audit_tree_size"] >= 0 and manifest["files"]
    assert not any("keyring" in name for name in manifest["files"])
    with empty_database(backend, tmp_path) as target:
        restored = _cli(_env(tmp_path, target), "restore", "--from", str(out))
        assert restored.returncode == 0, restored.stderr
        assert _count(target, "agencies") == _count(source, "agencies") == 1
        assert _count(target, "audit_events") == _count(source, "audit_events") > 0
        # a second restore into the same, now full, database is refused, changing nothing
        again = _cli(_env(tmp_path, target), "restore", "--from", str(out))
        assert again.returncode == 1 and "restore into an empty database" in again.stderr
        assert "Traceback" not in again.stderr
        assert _count(target, "agencies") == 1
        # unless told to replace what it holds
        replaced = _cli(_env(tmp_path, target), "restore", "--from", str(out), "--replace")
        assert replaced.returncode == 0, replaced.stderr
        assert _count(target, "agencies") == 1


def test_a_damaged_backup_is_refused_before_anything_is_written(source: str, tmp_path: Path) -> None:
    backend = make_url(source).get_backend_name()
    out = tmp_path / "backup"
    assert _cli(_env(tmp_path, source), "backup", "--out", str(out)).returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    damaged = out / sorted(manifest["files"])[-1]
    damaged.write_bytes(damaged.read_bytes() + b"\0")
    with empty_database(backend, tmp_path) as target:
        refused = _cli(_env(tmp_path, target), "restore", "--from", str(out))
        assert refused.returncode == 1 and "checksum differs" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
        if backend == "sqlite":
            assert not Path(str(make_url(target).database)).exists()
        else:
            engine = create_engine(target)
            with engine.connect() as connection:
                tables = connection.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
                assert tables.scalar_one() == 0
            engine.dispose()


def test_a_backup_never_writes_into_a_folder_in_use(source: str, tmp_path: Path) -> None:
    out = tmp_path / "in-use"
    out.mkdir()
    (out / "something").write_text("kept")
    refused = _cli(_env(tmp_path, source), "backup", "--out", str(out))
    assert refused.returncode == 1 and "not an empty folder" in refused.stderr
    assert [path.name for path in out.iterdir()] == ["something"]


def test_a_backup_is_readable_by_its_owner_only(source: str, tmp_path: Path) -> None:
    """Review: into an empty folder open to others (0755), the SQLite copy and pg_dump's files were 0644."""
    out = tmp_path / "open"
    out.mkdir(mode=0o755)
    out.chmod(0o755)
    made = _cli(_env(tmp_path, source), "backup", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for path in out.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_a_folder_that_is_no_backup_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    refused = _cli(_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"), "restore", "--from", str(tmp_path / "nothing"))
    assert refused.returncode == 1 and "not a backup of nrm-api" in refused.stderr
    assert not (tmp_path / "x.db").exists()


def test_a_tools_error_never_quotes_a_row(tmp_path: Path) -> None:
    """Review: pg_restore's DETAIL and CONTEXT lines (a key's values, a COPY line) were shown as they came."""
    from nrm_api.backup import BackupError, _run

    tool = tmp_path / "pg_restore"
    tool.write_text("#!/bin/sh\ncat >&2 <<'END'\n"
                    "pg_restore: error: could not execute query: ERROR:  duplicate key value violates unique\n"
                    "DETAIL:  Key (email_hash)=(olga@example.org) already exists.\n"
                    "CONTEXT:  COPY accounts, line 1: \"Zxqrowcanary\t1\"\n"
                    "Command was: COPY public.accounts (id, name) FROM stdin;\n"
                    "pg_restore: error: 1 error ignored on restore\nEND\nexit 1\n")
    tool.chmod(0o700)
    with pytest.raises(BackupError) as raised:
        _run([str(tool)], dict(os.environ))
    said = str(raised.value)
    assert "duplicate key value" in said and "1 error ignored" in said
    assert "olga@example.org" not in said and "Zxqrowcanary" not in said and "COPY public" not in said
