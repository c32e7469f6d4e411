"""``nrm-api doctor``: is this node's setup sound? One line per check, exit 1 on any failure, 2 on a warning.

It reads the same ``NRM_*`` settings the service does and creates no app, so it still answers when
the configuration is the problem. It writes nothing anywhere: the database is only read (``SELECT``),
Redis only pinged. No secret is printed: the database is named by host and name, never its password.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

#: Beyond this many seconds between this host's clock and the database server's, tokens' ``iat`` and
#: ``exp``, the audit log's timestamps and the login limits' windows disagree: a warning.
CLOCK_SKEW_SECONDS = 5.0
#: How long Redis may take to answer a PING.
REDIS_SECONDS = 3.0


@dataclass(frozen=True)
class Check:
    """One check's verdict: ``ok``, ``warn`` or ``fail``, and what it found (never a secret)."""

    name: str
    status: str
    detail: str

    def line(self) -> str:
        """The line printed for it."""
        return f"{self.status.upper():<4}  {self.name}: {self.detail}"


def _reason(error: BaseException) -> str:
    """An error's first line, without the driver's wrapping; no parameters (SQLAlchemy's own hides them)."""
    cause = getattr(error, "orig", None) or error
    first = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first[:300]}" if first else type(cause).__name__


def configuration(config: dict[str, Any]) -> Check:
    """The settings the service refuses to start without, and the ones it checks at start."""
    from .config import ConfigError, validate

    try:
        validate(config)
    except ConfigError as error:
        return Check("configuration", "fail", str(error))
    if config["PROXY_COUNT"] < 0:
        return Check("configuration", "fail", "NRM_PROXY_COUNT must be 0 or more")
    return Check("configuration", "ok", f"NRM_BASE_URL {config['BASE_URL']}, NRM_PROXY_COUNT {config['PROXY_COUNT']},"
                 f" NRM_METRICS_ALLOW {config['METRICS_ALLOW'] or '(nobody)'}")


def keyring(config: dict[str, Any]) -> Check:
    """The keyring opens, its file readable by its owner only (the service's own check, at its start)."""
    from .crypto.errors import CryptoError
    from .crypto.keyring import Keyring

    location = str(config["KEYRING"])
    try:
        ring = Keyring.load(location)
        kids = len(ring.jwks()["keys"])
    except CryptoError as error:
        return Check("keyring", "fail", str(error))
    where = location.split("?", 1)[0]  # a pkcs11: URI's query may name a PIN source
    return Check("keyring", "ok", f"{where} opens ({kids} public signing key(s)), not readable by group or others")


@contextmanager
def _connection(url: str) -> Iterator[Connection]:
    from .database import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def database(config: dict[str, Any]) -> list[Check]:
    """Reachable; at the newest migration; its clock agrees with this host's (PostgreSQL)."""
    url = str(config["DATABASE_URL"])
    named = make_url(url).render_as_string(hide_password=True)
    try:
        with _connection(url) as connection:
            connection.execute(text("SELECT 1"))
            reached = Check("database", "ok", f"{named} answers")
            return [reached, migrations(connection, url), clock(connection)]
    except Exception as error:  # noqa: BLE001 - whatever stops the connection is the finding
        return [Check("database", "fail", f"{named} does not answer: {_reason(error)}"),
                Check("migrations", "fail", "not checked: no database"),
                Check("clock", "fail", "not checked: no database")]


def migrations(connection: Connection, url: str) -> Check:
    """The database's Alembic revision is the code's head."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from .migrate import alembic_config

    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return Check("migrations", "ok", f"at the head ({', '.join(sorted(heads))})")
    at = ", ".join(sorted(current)) or "no revision (an empty database?)"
    return Check("migrations", "fail", f"at {at}; the code's head is {', '.join(sorted(heads))}: "
                 "run `nrm-api db upgrade` as the schema owner")


def skew(local_before: float, server: datetime, local_after: float) -> Check:
    """The clock verdict from the database server's time and this host's either side of asking."""
    middle = datetime.fromtimestamp((local_before + local_after) / 2, UTC)
    seconds = (server - middle).total_seconds()
    said = f"the database server's clock is {abs(seconds):.1f} s {'ahead of' if seconds > 0 else 'behind'} this host's"
    if abs(seconds) > CLOCK_SKEW_SECONDS:
        return Check("clock", "warn", f"{said} (more than {CLOCK_SKEW_SECONDS:.0f} s): synchronise both with NTP")
    return Check("clock", "ok", said)


def clock(connection: Connection) -> Check:
    """Compare this host's clock with the database server's (``SELECT now()``)."""
    if connection.dialect.name != "postgresql":
        return Check("clock", "ok", f"{connection.dialect.name}: the database is this host (no clock of its own)")
    before = time.time()
    server = connection.execute(text("SELECT now()")).scalar_one()
    return skew(before, server, time.time())


def redis(config: dict[str, Any]) -> Check:
    """Redis answers PING, when NRM_REDIS_URL is set."""
    url = config.get("REDIS_URL")
    if not url:
        return Check("redis", "ok", "not configured (NRM_REDIS_URL unset): limits are kept in the database")
    import redis as redis_client

    named = make_url(str(url).replace("redis://", "redis+x://", 1)).render_as_string(hide_password=True)
    named = named.replace("redis+x://", "redis://", 1)
    try:
        found = redis_client.Redis.from_url(str(url), socket_connect_timeout=REDIS_SECONDS,
                                            socket_timeout=REDIS_SECONDS)
        try:
            found.ping()
        finally:
            found.close()
    except redis_client.RedisError as error:
        return Check("redis", "fail", f"{named} does not answer PING: {_reason(error)}")
    return Check("redis", "ok", f"{named} answers PING")


def run(environ: dict[str, str] | None = None, echo: Callable[[str], None] = print) -> int:
    """Run every check, printing one line each; 0 when all are ok, 1 on a failure, 2 on warnings only."""
    from .config import from_environ

    try:
        config = from_environ(environ)
    except ValueError as error:  # a number that is none
        echo(Check("configuration", "fail", f"a setting is not a number: {error}").line())
        return 1
    checks = [configuration(config), keyring(config), *database(config), redis(config)]
    for check in checks:
        echo(check.line())
    statuses = {check.status for check in checks}
    return 1 if "fail" in statuses else 2 if "warn" in statuses else 0
