"""The mutation suite: tamper with a real log, live and exported, and name the first bad position.

The log under test ends with 20 events, a checkpoint, 20 more, a checkpoint, and 10 not yet
checkpointed (see ``build_log``), so faults are found both under a checkpoint and in the tail.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select, text

from nrm_api.audit import bundle
from nrm_api.audit import log as audit_log
from nrm_api.audit.models import AuditCheckpoint, AuditLeaf
from nrm_api.audit.verify import Report
from nrm_api.extensions import db
from tests.audit.helpers import build_log
from tests.audit.test_sequencer import _without_triggers

TABLES = ("audit_events", "audit_leaves", "audit_nodes", "audit_checkpoints")


@pytest.fixture
def base(app: Flask, backend: str) -> int:
    start = build_log()
    assert audit_log.verify_live(db.session).valid
    _without_triggers(backend, *TABLES)
    return start


def _event_id(seq: int) -> int:
    event_id = db.session.scalar(select(AuditLeaf.event_id).where(AuditLeaf.seq == seq))
    assert event_id is not None
    return event_id


def _live() -> Report:
    return audit_log.verify_live(db.session)


def _flip_byte(seq: int) -> None:
    body = db.session.scalar(text("SELECT body FROM audit_events WHERE id = :id"), {"id": _event_id(seq)})
    changed = body.replace(b"log-writer", b"log-wrlter")
    db.session.execute(text("UPDATE audit_events SET body = :b WHERE id = :id"), {"b": changed, "id": _event_id(seq)})


def _delete(seq: int) -> None:
    event_id = _event_id(seq)
    db.session.execute(text("DELETE FROM audit_leaves WHERE seq = :s"), {"s": seq})
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": event_id})


def _renumber_from(seq: int, shift: int) -> None:
    db.session.execute(text("UPDATE audit_leaves SET seq = -(seq + :k) - 1 WHERE seq >= :s"), {"k": shift, "s": seq})
    db.session.execute(text("UPDATE audit_leaves SET seq = -seq - 1 WHERE seq < 0"))


def _insert(seq: int) -> None:
    _renumber_from(seq, 1)
    body = db.session.scalar(text("SELECT body FROM audit_events WHERE id = :id"), {"id": _event_id(seq + 1)})
    forged = body.replace(b"log-writer", b"intruder")
    event_id = db.session.scalar(text(
        "INSERT INTO audit_events (occurred_at, actor, agency, action, resource, fields, outcome, reason, "
        "request_id, client_address, body, sha256) SELECT occurred_at, 'user:intruder', agency, action, resource, "
        "fields, outcome, reason, request_id, client_address, :b, sha256 FROM audit_events WHERE id = :id "
        "RETURNING id"), {"b": forged, "id": _event_id(seq + 1)})
    db.session.execute(text("INSERT INTO audit_leaves (seq, event_id, leaf_hash, signature) "
                            "VALUES (:s, :e, :h, :sig)"), {"s": seq, "e": event_id, "h": bytes(32), "sig": bytes(64)})


def _swap(first: int, second: int) -> None:
    db.session.execute(text("UPDATE audit_leaves SET seq = -1 WHERE seq = :a"), {"a": first})
    db.session.execute(text("UPDATE audit_leaves SET seq = :a WHERE seq = :b"), {"a": first, "b": second})
    db.session.execute(text("UPDATE audit_leaves SET seq = :b WHERE seq = -1"), {"b": second})


def _truncate_from(seq: int) -> None:
    ids = list(db.session.scalars(select(AuditLeaf.event_id).where(AuditLeaf.seq >= seq)))
    db.session.execute(text("DELETE FROM audit_leaves WHERE seq >= :s"), {"s": seq})
    for event_id in ids:
        db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": event_id})


def _forge_column(seq: int) -> None:
    db.session.execute(text("UPDATE audit_events SET actor = 'user:nobody' WHERE id = :id"), {"id": _event_id(seq)})


def _checkpoint_sizes() -> list[int]:
    return list(db.session.scalars(select(AuditCheckpoint.tree_size).order_by(AuditCheckpoint.tree_size)))


def _replace_checkpoint(size: int) -> None:
    note = db.session.scalar(select(AuditCheckpoint.note).where(AuditCheckpoint.tree_size == size))
    lines = note.split("\n")
    lines[2] = base64.b64encode(bytes(32)).decode()
    db.session.execute(text("UPDATE audit_checkpoints SET note = :n WHERE tree_size = :s"),
                       {"n": "\n".join(lines), "s": size})


CASES: list[tuple[str, Callable[[int], None], int, str]] = [
    ("flip a byte under a checkpoint", lambda b: _flip_byte(b + 5), 5, "altered"),
    ("flip a byte in the tail", lambda b: _flip_byte(b + 45), 45, "altered"),
    ("delete an event", lambda b: _delete(b + 12), 12, "removed"),
    ("delete an event and close the gap", lambda b: (_delete(b + 12), _renumber_from(b + 13, -1)), 12, "removed"),
    ("insert an event", lambda b: _insert(b + 30), 30, "inserted"),
    ("swap two events", lambda b: _swap(b + 22, b + 25), 22, "reordered"),
    ("swap two events in the tail", lambda b: _swap(b + 41, b + 43), 41, "reordered"),
    ("truncate the tail", lambda b: _truncate_from(b + 30), 30, "truncated"),
    ("forge a queried column", lambda b: _forge_column(b + 33), 33, "altered"),
]


@pytest.mark.parametrize(("mutate", "offset", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_live_verification_names_the_first_bad_position(base: int, mutate: Callable[[int], None], offset: int,
                                                         problem: str) -> None:
    mutate(base)
    report = _live()
    assert not report.valid
    assert (report.first_invalid_seq, report.problem) == (base + offset, problem), report.detail


def test_a_replaced_checkpoint_is_named(base: int) -> None:
    size = _checkpoint_sizes()[-2]
    _replace_checkpoint(size)
    report = _live()
    assert not report.valid
    assert (report.problem, report.invalid_checkpoint) == ("checkpoint", size)


def test_an_intact_log_verifies_with_its_head(base: int) -> None:
    report = _live()
    assert report.valid
    assert report.head is not None and report.head["seq"] == base + 49
    assert report.first_invalid_seq is None


# --- the same faults in an exported bundle, verified offline ---------------------------------------

def _bundle_lines() -> list[dict[str, object]]:
    out = io.StringIO()
    audit_log.export_bundle(db.session, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _verify_lines(lines: list[dict[str, object]]) -> Report:
    return bundle.verify_file(io.StringIO("".join(json.dumps(line) + "\n" for line in lines)))


def _event_index(lines: list[dict[str, object]], seq: int) -> int:
    return next(i for i, line in enumerate(lines) if line.get("seq") == seq)


def _flip_in_bundle(lines: list[dict[str, object]], seq: int) -> None:
    line = lines[_event_index(lines, seq)]
    body = base64.b64decode(str(line["event"])).replace(b"log-writer", b"log-wrlter")
    line["event"] = base64.b64encode(body).decode()


BUNDLE_CASES: list[tuple[str, Callable[[list[dict[str, object]], int], None], int, str]] = [
    ("flip a byte", lambda ls, b: _flip_in_bundle(ls, b + 7), 7, "altered"),
    ("flip a byte in the tail", lambda ls, b: _flip_in_bundle(ls, b + 48), 48, "altered"),
    ("delete an event", lambda ls, b: ls.pop(_event_index(ls, b + 16)), 16, "removed"),
    ("insert an event", lambda ls, b: ls.insert(_event_index(ls, b + 3), {**ls[_event_index(ls, b + 3)]}), 4,
     "reordered"),
    ("swap two events", lambda ls, b: ls.insert(_event_index(ls, b + 26), ls.pop(_event_index(ls, b + 27))), 26,
     "removed"),
    ("truncate the tail", lambda ls, b: ls.__delitem__(slice(_event_index(ls, b + 35), None)), 35, "truncated"),
]


@pytest.mark.parametrize(("mutate", "offset", "problem"), [c[1:] for c in BUNDLE_CASES],
                         ids=[c[0] for c in BUNDLE_CASES])
def test_offline_verification_names_the_first_bad_position(
        base: int, mutate: Callable[[list[dict[str, object]], int], None], offset: int, problem: str) -> None:
    lines = _bundle_lines()
    assert _verify_lines(lines).valid
    mutate(lines, base)
    report = _verify_lines(lines)
    assert not report.valid
    assert (report.first_invalid_seq, report.problem) == (base + offset, problem), report.detail


def test_a_replaced_checkpoint_in_a_bundle_is_named(base: int) -> None:
    lines = _bundle_lines()
    index = [i for i, line in enumerate(lines) if "checkpoint" in line][-1]
    note = str(lines[index]["checkpoint"])
    size = int(note.split("\n")[1])
    lines[index]["checkpoint"] = note.replace(note.split("\n")[2], base64.b64encode(bytes(32)).decode())
    report = _verify_lines(lines)
    assert (report.valid, report.problem, report.invalid_checkpoint) == (False, "checkpoint", size)


def test_a_bundle_signed_by_another_key_fails_against_pinned_keys(base: int) -> None:
    from nrm_api.crypto.jose import generate_private_jwk, public_half

    lines = _bundle_lines()
    stranger = public_half(generate_private_jwk())
    assert not bundle.verify_file(io.StringIO("".join(json.dumps(line) + "\n" for line in lines)), [stranger]).valid
