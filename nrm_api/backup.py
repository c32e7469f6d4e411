"""Backups of the database, and their restore: the database only, never the keyring.

A backup is a folder: the database (PostgreSQL: ``pg_dump --format=directory`` of the configured
database, under ``db/``; SQLite: a copy made with SQLite's online backup API, ``nrm.sqlite3``) and
``manifest.json`` — when, the migration head, the audit log's size and newest checkpoint, and the
SHA-256 of every file. The facts of the manifest are read in the snapshot the dump is taken from, so
they describe exactly what the backup holds.

The keyring is never part of a backup: forms' data keys are wrapped by its KEKs, so the database
alone reads no form (docs/backups.md says how the keyring is kept apart).

A restore checks every file against the manifest first, refuses a database that holds tables
(unless told to replace them), restores, and migrates to this version's head.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Connection, make_url

from .migrate import alembic_config, upgrade

FORMAT = "nrm-backup/1"
MANIFEST = "manifest.json"
POSTGRES_DUMP = "db"
SQLITE_COPY = "nrm.sqlite3"


class BackupError(Exception):
    """A backup cannot be made or restored; nothing was changed."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds."""

    data: dict[str, Any]

    @property
    def backend(self) -> str:
        """``postgresql`` or ``sqlite``."""
        return str(self.data["backend"])

    @property
    def files(self) -> dict[str, str]:
        """Every file of the backup (relative path → SHA-256), the manifest aside."""
        return dict(self.data["files"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): _sha256(path)
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name != MANIFEST}


def _facts(connection: Connection) -> dict[str, Any]:
    """The migration head and the audit log's size and newest checkpoint, as the connection sees them."""
    head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    size = connection.execute(text("SELECT count(*) FROM audit_leaves")).scalar() or 0
    checkpoint = connection.execute(text(
        "SELECT tree_size, note FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1")).first()
    return {"migration_head": head, "audit_tree_size": int(size),
            "audit_checkpoint": ({"tree_size": int(checkpoint[0]), "note": checkpoint[1]} if checkpoint else None)}


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for ``url`` without its password, and the environment that carries it."""
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


#: Lines of a PostgreSQL tool's error that may quote a row: a key's values (DETAIL), a COPY line or
#: column value (CONTEXT), the statement (Command was), and what follows them up to the next message.
_ROW_QUOTING = ("DETAIL:", "CONTEXT:", "Command was:", "LINE ", "HINT:")


def _said(stderr: str, tool: str) -> str:
    """A tool's error output without the lines that may quote a row's values."""
    kept, quoting = [], False
    for line in stderr.strip().splitlines():
        if line.startswith(f"{tool}:"):
            quoting = False
        elif line.lstrip().startswith(_ROW_QUOTING):
            quoting = True
        if not quoting and line.strip():
            kept.append(line)
    return "\n".join(kept)[-2000:]


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        # the tools' own lines name objects; their DETAIL/CONTEXT lines may quote rows: left out
        tool = Path(command[0]).name
        raise BackupError(f"{tool} failed: {_said(result.stderr, tool)}")


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _prepare_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} exists and is not an empty folder; refusing to write a backup into it")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    out.chmod(0o700)  # an empty folder given may be open to others: the backup is the service's alone


@contextmanager
def _private_files() -> Iterator[None]:
    """Files made meanwhile (the SQLite copy, pg_dump's, the manifest) readable by their owner only."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def backup(database_url: str, out: Path) -> Manifest:
    """Back the database at ``database_url`` up into the new or empty folder ``out``."""
    url = make_url(database_url)
    _prepare_out(out)
    with _private_files():
        try:
            if url.get_backend_name() == "postgresql":
                facts = _backup_postgres(url, out)
            elif url.get_backend_name() == "sqlite":
                facts = _backup_sqlite(url, out)
            else:
                raise BackupError(f"no backup for {url.get_backend_name()} databases")
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)
            raise
        data = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "backend": url.get_backend_name(), **facts, "files": _files(out)}
        manifest = out / MANIFEST
        manifest.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return Manifest(data)


def _backup_postgres(url: URL, out: Path) -> dict[str, Any]:
    pg_dump = _tool("pg_dump")
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as connection:
            # one snapshot for the facts and the dump: the manifest describes exactly what was dumped
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            facts = _facts(connection)
            conninfo, env = _libpq(url)
            _run([pg_dump, "--format=directory", "--compress=6", "--no-owner", f"--snapshot={snapshot}",
                  f"--file={out / POSTGRES_DUMP}", f"--dbname={conninfo}"], env)
            connection.rollback()
    finally:
        engine.dispose()
    return facts


def _backup_sqlite(url: URL, out: Path) -> dict[str, Any]:
    source_path = _sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"{source_path} does not exist")
    target = out / SQLITE_COPY
    with closing(sqlite3.connect(source_path)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)  # the online backup API: a consistent copy while the service writes
    with _sqlite_connection(target) as connection:
        return _facts(connection)


@contextmanager
def _sqlite_connection(path: Path) -> Iterator[Connection]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def read_manifest(folder: Path) -> Manifest:
    """The backup's manifest, once every file it names (and no other) matches its SHA-256."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{folder} holds no {MANIFEST}: not a backup of nrm-api") from None
    except ValueError:
        raise BackupError(f"{path} is not JSON: the backup is damaged") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("files"), dict):
        raise BackupError(f"{path} is not a manifest of {FORMAT}")
    manifest = Manifest(data)
    found = _files(folder)
    missing = sorted(set(manifest.files) - set(found))
    extra = sorted(set(found) - set(manifest.files))
    altered = sorted(name for name in set(found) & set(manifest.files) if found[name] != manifest.files[name])
    if missing or extra or altered:
        problems = [f"{label}: {', '.join(names[:5])}" for label, names in
                    (("missing", missing), ("not in the manifest", extra), ("checksum differs", altered)) if names]
        raise BackupError(f"the backup does not match its manifest ({'; '.join(problems)}); nothing restored")
    return manifest


def restore(database_url: str, folder: Path, replace: bool = False) -> Manifest:
    """Restore the backup in ``folder`` into the (empty) database at ``database_url``, then migrate to head."""
    manifest = read_manifest(folder)
    url = make_url(database_url)
    if url.get_backend_name() != manifest.backend:
        raise BackupError(f"the backup is of a {manifest.backend} database; NRM_DATABASE_URL is "
                          f"{url.get_backend_name()}")
    _check_head_known(manifest.data.get("migration_head"))
    if not replace:
        tables = _tables(url)
        if tables:
            raise BackupError(f"the database holds {len(tables)} table(s); restore into an empty database "
                              "or give --replace to overwrite what the backup holds")
    if manifest.backend == "postgresql":
        conninfo, env = _libpq(url)
        clean = ["--clean", "--if-exists"] if replace else []
        _run([_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction", *clean,
              f"--dbname={conninfo}", str(folder / POSTGRES_DUMP)], env)
    else:
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(folder / SQLITE_COPY)) as source, closing(sqlite3.connect(target)) as into:
            source.backup(into)
    upgrade(database_url)
    return manifest


def _check_head_known(head: object) -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    if head is not None and head not in {revision.revision for revision in script.walk_revisions()}:
        raise BackupError(f"the backup's schema is at revision {head}, which this version of nrm-api does not "
                          "know: restore it with the version that made it (or a newer one)")


def _tables(url: URL) -> list[str]:
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if not path.exists():
            return []
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(inspect(connection).get_table_names())
    finally:
        engine.dispose()
