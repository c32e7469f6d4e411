"""The streamed export: the same bytes as writing each event's dict with ``json.dumps`` and ``csv``, at any size."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from nrm_api.audit import events, queries
from nrm_api.audit.actor import Actor
from nrm_api.audit.models import AuditEvent, AuditLeaf
from nrm_api.extensions import db
from tests.audit.helpers import add_events, sequence

ODD = Actor('user:Ольга "quoted" \\ back\tslash', "moi", "caseworker", "req\n\x01\x7f\u2028", "=1+2",
            client_request_id="@cid")


def _record_odd_events() -> None:
    events.record(ODD, "test:event", "allowed", resource="test:é😀", fields=["person.name", "person.b"])
    events.record(ODD, "test:event", "denied", reason="-bad", count=7)
    events.record(Actor("anonymous", None, None, None, None), "test:event", "failed")
    db.session.commit()


def _reference_rows(filters: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows as the export made them before: ORM entities through ``queries.row``."""
    query = queries._query(filters).order_by(AuditEvent.id)
    return [queries.row(event, seq) for event, seq in db.session.execute(query)]


def _reference_jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps({**item, "occurred_at": item["occurred_at"].isoformat()}, ensure_ascii=False) + "\n"
                   for item in rows)


def _reference_csv(rows: list[dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        text = ";".join(value) if isinstance(value, list) else "" if value is None else \
            value.isoformat() if isinstance(value, datetime) else str(value)
        return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(queries.EXPORT_COLUMNS)
    for item in rows:
        writer.writerow([cell(item[column]) for column in queries.EXPORT_COLUMNS])
    return buffer.getvalue()


def test_the_streamed_export_gives_the_same_bytes_as_before(app: Flask, backend: str) -> None:
    add_events(3, label="export")
    sequence()
    _record_odd_events()  # queued, not yet sequenced: seq null
    for filters in ({}, {"actor": ODD.subject}, {"outcome": "denied"}):
        rows = _reference_rows(filters)
        assert rows
        jsonl = "".join(queries.as_jsonl(queries.stream(db.session, filters)))
        assert jsonl == _reference_jsonl(rows)
        assert "".join(queries.as_csv(queries.stream(db.session, filters))) == _reference_csv(rows)


def test_an_export_larger_than_a_fetch_and_a_chunk_streams_whole_and_in_order(app: Flask, backend: str,
                                                                           monkeypatch: Any) -> None:
    monkeypatch.setattr(queries, "EXPORT_BATCH", 7)
    monkeypatch.setattr(queries, "CHUNK", 500)
    add_events(40, label="many")
    sequence()
    filters = {"actor": "user:log-writer"}
    chunks = list(queries.as_jsonl(queries.stream(db.session, filters)))
    assert len(chunks) > 1 and all(chunk.endswith("\n") for chunk in chunks)
    assert "".join(chunks) == _reference_jsonl(_reference_rows(filters))
    seqs = [json.loads(line)["seq"] for line in "".join(chunks).splitlines()]
    stored = list(db.session.scalars(select(AuditLeaf.seq).join(AuditEvent, AuditEvent.id == AuditLeaf.event_id)
                                     .where(AuditEvent.actor == "user:log-writer").order_by(AuditEvent.id)))
    assert seqs == stored


VALUE = st.none() | st.text()


@given(st.tuples(st.none() | st.integers(0, 2**62), st.text(), VALUE, st.text(), VALUE, st.lists(st.text()),
                 st.text(), VALUE, VALUE, VALUE, VALUE, st.text(), st.none() | st.integers(1, 2**31)))
def test_a_line_written_by_hand_is_what_json_dumps_writes(values: tuple[Any, ...]) -> None:
    seq, *rest = values
    row = (seq, datetime.fromisoformat("2026-12-01T18:00:00.000001+00:00"), *rest)
    item = dict(zip(queries.EXPORT_COLUMNS, row, strict=True))
    expected = json.dumps({**item, "occurred_at": item["occurred_at"].isoformat()}, ensure_ascii=False) + "\n"
    assert queries._jsonl_line(row) == expected


def test_a_value_of_another_type_is_written_by_the_encoder() -> None:
    row = (1, datetime.fromisoformat("2026-12-01T18:00:00+00:00"), "a", None, "b", None, ["x", 2], "allowed", None,
           None, None, None, "00", None)
    item = dict(zip(queries.EXPORT_COLUMNS, row, strict=True))
    expected = json.dumps({**item, "occurred_at": item["occurred_at"].isoformat()}, ensure_ascii=False) + "\n"
    assert queries._jsonl_line(row) == expected
