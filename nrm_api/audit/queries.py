"""What auditors ask of the log: filtered pages with keyset cursors, streamed exports, one record's accesses."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from .. import paging
from .models import AuditEvent, AuditLeaf

FILTERS = ("actor", "agency", "action", "resource", "outcome")
EXPORT_COLUMNS = ("seq", "occurred_at", "actor", "agency", "action", "resource", "fields", "outcome", "reason",
                  "request_id", "client_request_id", "client_address", "sha256", "count")
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    """One page of events and the cursor of the next, if any."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def _query(filters: Mapping[str, Any]) -> Select[AuditEvent, int | None]:
    query: Select[AuditEvent, int | None] = select(AuditEvent, AuditLeaf.seq).outerjoin(
        AuditLeaf, AuditLeaf.event_id == AuditEvent.id)
    for name in FILTERS:
        if filters.get(name) is not None:
            query = query.where(getattr(AuditEvent, name) == filters[name])
    since: datetime | None = filters.get("since")
    until: datetime | None = filters.get("until")
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEvent.occurred_at < until)
    return query


def row(event: AuditEvent, seq: int | None) -> dict[str, Any]:
    """An event as auditors see it: identifiers, never case content (there is none in the log)."""
    return {"seq": seq, "occurred_at": event.occurred_at, "actor": event.actor, "agency": event.agency,
            "action": event.action, "resource": event.resource, "fields": list(event.fields),
            "outcome": event.outcome, "reason": event.reason, "request_id": event.request_id,
            "client_request_id": event.client_request_id,
            "client_address": event.client_address, "sha256": event.sha256, "count": event.count}


def position(session: Session, event_id: int) -> int | None:
    """The log position of the event stored as row ``event_id``, or ``None`` until it is sequenced."""
    return session.scalar(select(AuditLeaf.seq).where(AuditLeaf.event_id == event_id))


def page(session: Session, filters: Mapping[str, Any], cursor: str | None, limit: int) -> Page:
    """Events matching ``filters``, oldest first, ``limit`` at a time."""
    query = _query(filters).order_by(AuditEvent.id).limit(limit + 1)
    if cursor:
        query = query.where(AuditEvent.id > paging.decode_after(cursor))
    rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [row(event, seq) for event, seq in rows]
    return Page(items, paging.encode_after(rows[-1][0].id) if more and rows else None)


def stream(session: Session, filters: Mapping[str, Any]) -> Generator[dict[str, Any], None, None]:
    """Every matching event, oldest first, through a server-side cursor: flat memory at any size."""
    result = session.execute(_query(filters).order_by(AuditEvent.id).execution_options(yield_per=2000))
    try:
        for event, seq in result:
            yield row(event, seq)
            session.expunge(event)
    finally:
        result.close()


def as_jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """JSON Lines, one event a line."""
    for item in rows:
        yield json.dumps({**item, "occurred_at": item["occurred_at"].isoformat()}, ensure_ascii=False) + "\n"


def _cell(value: Any) -> str:
    text = ";".join(value) if isinstance(value, list) else "" if value is None else \
        value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text  # no formulas in spreadsheets


def as_csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """CSV with a header row; cells that a spreadsheet would run as formulas are defused."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for item in rows:
        writer.writerow([_cell(item[column]) for column in EXPORT_COLUMNS])
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
