"""Where sign-in windows live: Redis (one atomic script), or the database (row locks).

Both keep, per window, the failures of the last 15 minutes as (time, ticket) entries: a sliding
window, so "at most N failures within 15 minutes" holds at every instant, not per fixed slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..extensions import db
from .models import LoginThrottle

#: Each window's span: the failures of the last 15 minutes count.
WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class Window:
    """One counter: a hashed key (no username or address is stored) and its limit."""

    key: str
    limit: int


#: Check every window first and take a slot in all of them only if none is full: all or none.
_RESERVE = """
local now, span, wait = tonumber(ARGV[1]), tonumber(ARGV[2]), 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local limit, count = tonumber(ARGV[3 + i]), redis.call('ZCARD', key)
  if count >= limit then
    local entry = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(entry[2]) + span - now)
  end
end
if wait > 0 then return tostring(wait) end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('EXPIRE', key, math.ceil(span))
end
return '0'
"""


class RedisStore:
    """Windows as sorted sets in Redis, shared by every worker and node."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = redis.Redis.from_url(url)
        self._prefix = f"{prefix}login:"
        self._script = self._redis.register_script(_RESERVE)

    def reserve(self, windows: tuple[Window, ...], ticket: str, now: float) -> float:
        """Take a slot in every window, or none; return 0, or the seconds until one frees."""
        keys = [self._prefix + window.key for window in windows]
        answer = self._script(keys=keys, args=[repr(now), WINDOW_SECONDS, ticket,
                                               *(window.limit for window in windows)])
        return float(answer)

    def release(self, windows: tuple[Window, ...], ticket: str) -> None:
        """Give the attempt's slots back."""
        pipe = self._redis.pipeline()
        for window in windows:
            pipe.zrem(self._prefix + window.key, ticket)
        pipe.execute()


class DatabaseStore:
    """Windows as rows, one per key, locked while an attempt takes or gives back its slot."""

    def reserve(self, windows: tuple[Window, ...], ticket: str, now: float) -> float:
        """Take a slot in every window, or none; return 0, or the seconds until one frees."""
        session = db.session
        ordered = sorted(windows, key=lambda window: window.key)  # one lock order: no deadlock
        moment = datetime.fromtimestamp(now, UTC)
        for window in ordered:
            _lock(session, window.key, moment)
        keys = [window.key for window in ordered]
        found = dict(session.execute(select(LoginThrottle.key, LoginThrottle.stamps)
                                     .where(LoginThrottle.key.in_(keys))).all())
        recent = {key: _recent(found.get(key) or [], now) for key in keys}
        wait = max(_wait(recent[window.key], window.limit, now) for window in ordered)
        if wait > 0:
            session.rollback()
            return wait
        for key in keys:
            session.execute(update(LoginThrottle).where(LoginThrottle.key == key)
                            .values(stamps=[*recent[key], f"{now:.6f} {ticket}"], updated_at=moment))
        session.commit()
        if ticket.startswith("0"):  # one attempt in 16 sweeps windows nobody touched for a while
            _sweep(session, now)
        return 0.0

    def release(self, windows: tuple[Window, ...], ticket: str) -> None:
        """Give the attempt's slots back."""
        session = db.session
        for key in sorted(window.key for window in windows):
            stamps = session.execute(select(LoginThrottle.stamps).where(LoginThrottle.key == key)
                                     .with_for_update()).scalar_one_or_none()
            if stamps is not None:
                left = [entry for entry in stamps if entry.split(" ")[-1] != ticket]
                session.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(stamps=left))
        session.commit()


def _lock(session: Session, key: str, moment: datetime) -> None:
    """Insert the window's row or lock the one there (INSERT … ON CONFLICT DO UPDATE locks it)."""
    dialect: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(LoginThrottle).values(key=key, stamps=[], updated_at=moment)
    session.execute(statement.on_conflict_do_update(index_elements=["key"], set_={"updated_at": moment}))


def _recent(stamps: list[str], now: float) -> list[str]:
    cut = now - WINDOW_SECONDS
    return [entry for entry in stamps if float(entry.split(" ")[0]) > cut]


def _wait(recent: list[str], limit: int, now: float) -> float:
    """Seconds until the window has a free slot (0 if it has one now)."""
    if len(recent) < limit:
        return 0.0
    times = sorted(float(entry.split(" ")[0]) for entry in recent)
    return max(times[len(times) - limit] + WINDOW_SECONDS - now, 1e-3)


def _sweep(session: Session, now: float) -> None:
    """Delete windows with no failure left; skip rows others hold, so this never waits on them."""
    cut = datetime.fromtimestamp(now - WINDOW_SECONDS, UTC)
    stale = (select(LoginThrottle.key).where(LoginThrottle.updated_at < cut).limit(500)
             .with_for_update(skip_locked=True))
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(stale)))
    session.commit()
