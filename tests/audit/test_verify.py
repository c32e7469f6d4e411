"""The offline verifier's fast paths: the same verdicts as checking each event by itself, with no database.

Logs here are made with the sequencer's own primitives (canonical events, signed positions,
checkpoints) so that a body the service itself signed can be non-canonical, wherever it stands.
"""

from __future__ import annotations

import base64
import io
import json
import os

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nrm_api.audit import bundle, merkle, notes
from nrm_api.audit.verify import CANONICAL_BATCH, Entry, Frontier, Report, first_non_canonical, verify
from nrm_api.crypto.canonical import NotCanonicalizable, canonical
from nrm_api.crypto.keyring import SigningKey

ORIGIN = "test.local/audit-log"
KEY = SigningKey.from_seed(bytes(range(32)))
PUBLIC = base64.urlsafe_b64decode(KEY.public_jwk()["x"] + "=")


def _body(seq: int) -> bytes:
    return canonical({"action": "test:event", "actor": "user:тест", "fields": ["person.name"], "outcome": "allowed",
                      "reason": None, "request_id": f"r-{seq}", "resource": f"test:{seq}", "count": seq % 3 or None})


def _log(size: int, checkpoints: tuple[int, ...], bodies: dict[int, bytes] | None = None) -> tuple[list[Entry],
                                                                                                    list[str]]:
    """Entries and checkpoint notes as the sequencer signs them; ``bodies`` replaces some positions' bytes."""
    entries, notes_, tree = [], [], Frontier()
    for seq in range(size):
        body = (bodies or {}).get(seq, _body(seq))
        leaf = merkle.leaf_hash(body)
        tree.append(leaf)
        entries.append(Entry(seq, body, KEY.sign(notes.leaf_message(ORIGIN, seq, leaf))))
        if seq + 1 in checkpoints:
            notes_.append(notes.sign_checkpoint(ORIGIN, seq + 1, tree.root(), PUBLIC, KEY.sign))
    return entries, notes_


def _verify(entries: list[Entry], checkpoint_notes: list[str]) -> Report:
    return verify(entries, checkpoint_notes, ORIGIN, [PUBLIC])


def test_the_frontier_root_is_the_rfc_root_at_every_size() -> None:
    frontier, memory = Frontier(), merkle.MemoryTree()
    assert frontier.root() == memory.root()
    for n in range(70):
        leaf = merkle.leaf_hash(str(n).encode())
        frontier.append(leaf)
        memory.append(leaf)
        assert frontier.size == n + 1 and frontier.root() == memory.root()


def test_an_intact_log_verifies_across_batches_and_checkpoints() -> None:
    size = 2 * CANONICAL_BATCH + 700  # a tail longer than a batch after the last checkpoint
    entries, checkpoint_notes = _log(size, (1000, 1500))
    report = _verify(entries, checkpoint_notes)
    assert report.valid, report.as_dict()
    memory = merkle.MemoryTree()
    for entry in entries:
        memory.append(merkle.leaf_hash(entry.body))
    assert report.head == {"seq": size - 1, "hash": memory.root().hex(), "size": size}
    assert report.checkpoints_checked == 2


NOT_CANONICAL = b'{"action": "test:event"}'


@pytest.mark.parametrize("position", [0, 999, 1000, 1200, 1500 + CANONICAL_BATCH + 5],
                         ids=["first", "last under a checkpoint", "first after it", "under the next",
                              "in the tail, past a batch"])
def test_signed_bytes_that_are_not_canonical_are_named_where_they_stand(position: int) -> None:
    entries, checkpoint_notes = _log(1500 + CANONICAL_BATCH + 100, (1000, 1500), {position: NOT_CANONICAL})
    report = _verify(entries, checkpoint_notes)
    assert (report.valid, report.first_invalid_seq, report.problem) == (False, position, "altered")
    assert report.events_checked == position
    assert report.detail == "the event's bytes are not canonical JSON"
    assert report.checkpoints_checked == (0 if position < 1000 else 1 if position < 1500 else 2)


def test_the_first_fault_is_named_whichever_check_finds_it() -> None:
    entries, checkpoint_notes = _log(1200, (1000,), {700: NOT_CANONICAL})
    del entries[900]  # a removal after the non-canonical bytes, before the batch is checked
    report = _verify(entries, checkpoint_notes)
    assert (report.first_invalid_seq, report.problem) == (700, "altered")
    entries, checkpoint_notes = _log(1200, (1000,), {950: NOT_CANONICAL})
    del entries[900]  # now the removal comes first
    report = _verify(entries, checkpoint_notes)
    assert (report.first_invalid_seq, report.problem) == (900, "removed")


def test_a_checkpoint_over_other_bytes_is_localised_to_the_position() -> None:
    entries, checkpoint_notes = _log(1100, (1000,))
    forged = _body(10).replace(b"r-10", b"r-99")
    entries[10] = Entry(10, forged, entries[10].signature)
    report = _verify(entries, checkpoint_notes)
    assert (report.first_invalid_seq, report.problem) == (10, "altered")


# --- the canonical check, a batch at a time, against canonical() one body at a time ----------------

def _slow(bodies: list[bytes]) -> int | None:
    for index, body in enumerate(bodies):
        try:
            if canonical(json.loads(body)) != body:
                return index
        except (ValueError, TypeError, UnicodeDecodeError, NotCanonicalizable):
            return index
    return None


TRICKY = [
    b'{"a":1.0}', b'{"a":1.5}', b'{"a":1e21}', b'{"a":1E+2}', b'{"a":-0}', b'{"a":9007199254740993}',
    b'{"a":9007199254740991}', b'{"a":1,"a":1}', b'{"b":1,"a":2}', b'{ "a":1}', b'{"a":"\\u0041"}', b'{"a":"\\/"}',
    b'{"a":"\\ud800"}', b'{"a":"\\u001f"}', b'{"a":"\\u001F"}', b'{"a":"\x7f"}', b'{"\xc3\xa9":1,"z":2}',
    b'{"z":2,"\xc3\xa9":1}', b'{"\xf0\x9f\x98\x80":1,"\xef\xbd\xa1":2}', b'{"\xef\xbd\xa1":2,"\xf0\x9f\x98\x80":1}',
    b'{"a":"\xff"}', b'[1,2]', b'"x"', b'1.5', b'{"a":[{"b":1.0}]}', b'{"a":[{"b":1}]}', b'{"a":true,"b":null}',
    b'{"a":NaN}', b'', b'{"a":1}\n', b'{"a":"1.5,"}', b'{"a":"\\"","b":1}',
]


@pytest.mark.parametrize("body", TRICKY)
def test_each_tricky_body_is_judged_as_canonical_judges_it(body: bytes) -> None:
    plain = [_body(n) for n in range(5)]
    for bodies in ([body], [*plain, body], [body, *plain], [*plain, body, *plain]):
        assert first_non_canonical(bodies) == _slow(bodies), body


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(JSON, min_size=1, max_size=6), st.data())
def test_a_batch_is_judged_as_each_body_alone(values: list[object], data: st.DataObject) -> None:
    bodies = []
    for value in values:
        form = data.draw(st.sampled_from(["canonical", "json", "orjson"]))
        try:
            bodies.append(canonical(value) if form == "canonical" else json.dumps(value).encode()
                          if form == "json" else orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
        except (ValueError, TypeError, NotCanonicalizable):
            bodies.append(json.dumps(value).encode())
    assert first_non_canonical(bodies) == _slow(bodies)


def test_orjson_escapes_every_character_as_json_dumps_does() -> None:
    """What makes orjson's bytes RFC 8785's for plain values: character by character, all of Unicode."""
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert orjson.dumps(everything) == json.dumps(everything, ensure_ascii=False).encode()
    for c in range(0x80):
        assert orjson.dumps(chr(c)) == json.dumps(chr(c), ensure_ascii=False).encode()


# --- the bundle reader's quick way and its fallback -----------------------------------------------

def _bundle(entries: list[Entry], checkpoint_notes: list[str], extra: tuple[str, ...] = ()) -> io.StringIO:
    lines = [json.dumps({"format": bundle.FORMAT, "origin": ORIGIN, "keys": [KEY.public_jwk()]})]
    lines += [json.dumps({"checkpoint": note}) for note in checkpoint_notes]
    lines += [json.dumps({"seq": e.seq, "event": base64.b64encode(e.body).decode(),
                          "signature": base64.b64encode(e.signature).decode()}) for e in entries]
    return io.StringIO("\n".join([*lines, *extra]) + "\n")


def test_a_bundle_verifies_and_reads_back_exactly() -> None:
    entries, checkpoint_notes = _log(30, (20,))
    header, checkpoints, read = bundle.read(_bundle(entries, checkpoint_notes))
    assert (header.origin, checkpoints, list(read)) == (ORIGIN, checkpoint_notes, entries)
    assert bundle.verify_file(_bundle(entries, checkpoint_notes)).valid


@pytest.mark.parametrize(("line", "message"), [
    ('{"seq": NaN, "event": "", "signature": ""}', "an event line is malformed"),
    ('{"seq": 3, "event": "not base64!", "signature": ""}', "an event line is malformed"),
    ('{"seq": 3, "event": "AAAA"}', "an event line is malformed"),
    ("[1, 2]", "line 33 is not a JSON object"),
    ("{oops", "line 33 is not JSON"),
])
def test_a_malformed_line_is_named_as_before(line: str, message: str) -> None:
    entries, checkpoint_notes = _log(30, (20,))
    with pytest.raises(bundle.BundleError, match=message):
        bundle.verify_file(_bundle(entries, checkpoint_notes, (line,)))


def test_a_line_only_the_stdlib_reads_is_still_read() -> None:
    entries, checkpoint_notes = _log(3, ())
    huge = json.dumps({"seq": 10**30, "event": base64.b64encode(entries[0].body).decode(),
                       "signature": base64.b64encode(entries[0].signature).decode()})
    report = bundle.verify_file(_bundle(entries, checkpoint_notes, (huge,)))
    assert (report.first_invalid_seq, report.problem) == (3, "removed")
    assert report.detail == f"position 3 holds the event stored at {10**30}"


@pytest.mark.parametrize("body", [os.urandom(64), b'{"count":9007199254740993}'], ids=["random bytes", "huge integer"])
def test_signed_bytes_with_no_canonical_form_are_altered_not_a_crash(body: bytes) -> None:
    entries, checkpoint_notes = _log(10, (5,), {2: body})
    report = _verify(entries, checkpoint_notes)
    assert (report.first_invalid_seq, report.problem) == (2, "altered")
