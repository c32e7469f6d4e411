"""What auditors ask of the log: filtered pages with keyset cursors, streamed exports, one record's accesses."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import Select, Text, cast, select
from sqlalchemy.orm import Session

from .. import paging
from .models import AuditEvent, AuditLeaf

FILTERS = ("actor", "agency", "action", "resource", "outcome")
EXPORT_COLUMNS = ("seq", "occurred_at", "actor", "agency", "action", "resource", "fields", "outcome", "reason",
                  "request_id", "client_request_id", "client_address", "sha256", "count")
MAX_LIMIT = 1000
#: Rows fetched at a time by an export, and characters sent at a time.
EXPORT_BATCH = 5000
CHUNK = 65536
FIELDS = EXPORT_COLUMNS.index("fields")
_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class Page:
    """One page of events and the cursor of the next, if any."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def _query(filters: Mapping[str, Any]) -> Select[AuditEvent, int | None]:
    query: Select[AuditEvent, int | None] = select(AuditEvent, AuditLeaf.seq).outerjoin(
        AuditLeaf, AuditLeaf.event_id == AuditEvent.id)
    return _filtered(query, filters)


def _filtered(query: _Query, filters: Mapping[str, Any]) -> _Query:
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


def stream(session: Session, filters: Mapping[str, Any]) -> Generator[tuple[Any, ...], None, None]:
    """Every matching event as a tuple of ``EXPORT_COLUMNS``, oldest first: flat memory at any size.

    Columns on the session's connection, not entities (no identity map, no ORM loading), fetched
    ``EXPORT_BATCH`` rows at a time from a server-side cursor on PostgreSQL; ``fields`` read as its
    JSON text and parsed by orjson, the stdlib's parser being the export's largest cost.
    """
    columns = [AuditLeaf.seq, *(getattr(AuditEvent, name) for name in EXPORT_COLUMNS[1:])]
    columns[FIELDS] = cast(AuditEvent.fields, Text)
    query = _filtered(select(*columns).select_from(AuditEvent).outerjoin(
        AuditLeaf, AuditLeaf.event_id == AuditEvent.id), filters).order_by(AuditEvent.id)
    result = session.connection().execute(query.execution_options(yield_per=EXPORT_BATCH))
    loads = orjson.loads
    try:
        for batch in result.partitions():
            for row in batch:
                yield (*row[:FIELDS], loads(row[FIELDS]), *row[FIELDS + 1:])
    finally:
        result.close()


def _chunked(lines: Iterator[str]) -> Iterator[str]:
    """Lines gathered into chunks of about ``CHUNK`` characters: one write, or one sent piece, each."""
    pending: list[str] = []
    size = 0
    for line in lines:
        pending.append(line)
        size += len(line)
        if size >= CHUNK:
            yield "".join(pending)
            pending.clear()
            size = 0
    if pending:
        yield "".join(pending)


def as_jsonl(rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    """JSON Lines, one event a line, in chunks."""
    return _chunked(map(_jsonl_line, rows))


_ENCODER = json.JSONEncoder(ensure_ascii=False)
_string = json.encoder.encode_basestring  # json.dumps's own, for ensure_ascii=False


def _jsonl_line(row: tuple[Any, ...]) -> str:
    """``json.dumps`` of the event's dict (``ensure_ascii=False``), the same bytes, written out by hand for speed."""
    seq, at, actor, agency, action, resource, fields, outcome, reason, request_id, client_request_id, address, \
        sha256, count = row
    try:
        return (f'{{"seq": {"null" if seq is None else int.__repr__(seq)}, "occurred_at": {_string(at.isoformat())}, '
                f'"actor": {_string(actor)}, "agency": {"null" if agency is None else _string(agency)}, '
                f'"action": {_string(action)}, "resource": {"null" if resource is None else _string(resource)}, '
                f'"fields": [{", ".join(map(_string, fields))}], "outcome": {_string(outcome)}, '
                f'"reason": {"null" if reason is None else _string(reason)}, '
                f'"request_id": {"null" if request_id is None else _string(request_id)}, '
                f'"client_request_id": {"null" if client_request_id is None else _string(client_request_id)}, '
                f'"client_address": {"null" if address is None else _string(address)}, '
                f'"sha256": {_string(sha256)}, "count": {"null" if count is None else int.__repr__(count)}}}\n')
    except TypeError:  # a value of another type than the columns declare: the encoder itself writes it
        item = dict(zip(EXPORT_COLUMNS, row, strict=True))
        return _ENCODER.encode({**item, "occurred_at": at.isoformat()}) + "\n"


_FORMULA_STARTS = frozenset("=+-@\t\r")


def _cell(value: Any) -> str:
    text: str = value if value.__class__ is str else ";".join(value) if isinstance(value, list) else \
        "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in _FORMULA_STARTS else text  # no formulas in spreadsheets


def as_csv(rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    """CSV with a header row; cells that a spreadsheet would run as formulas are defused."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for item in rows:
        writer.writerow(map(_cell, item))
        if buffer.tell() > CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
