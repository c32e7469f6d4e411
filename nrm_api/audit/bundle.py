"""Audit bundles: the exact event bytes, the checkpoints and the public keys, in one JSON Lines file.

``read`` and ``verify_file`` need nothing but this module's pure dependencies: an auditor verifies
a bundle offline, with no database and no configuration.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from ..crypto.signatures import public_key_bytes
from .verify import Entry, Report, verify

FORMAT = "nrm-audit-bundle/1"


class BundleError(ValueError):
    """The file is not a readable bundle."""


@dataclass(frozen=True)
class Header:
    """What a bundle says about itself."""

    origin: str
    keys: list[dict[str, str]]


def write(out: IO[str], origin: str, keys: Iterable[dict[str, str]], checkpoints: Iterable[str],
          entries: Iterable[Entry]) -> int:
    """Stream a bundle to ``out``; return the number of events written."""
    count = 0

    def counted() -> Iterator[Entry]:
        nonlocal count
        for entry in entries:
            count += 1
            yield entry

    out.writelines(as_lines(origin, keys, checkpoints, counted()))
    return count


def as_lines(origin: str, keys: Iterable[dict[str, str]], checkpoints: Iterable[str],
          entries: Iterable[Entry]) -> Iterator[str]:
    """A bundle line by line (each ends with a newline): header, checkpoints, then every event."""
    yield json.dumps({"format": FORMAT, "origin": origin, "keys": list(keys)}) + "\n"
    for note in checkpoints:
        yield json.dumps({"checkpoint": note}) + "\n"
    for entry in entries:
        yield json.dumps({"seq": entry.seq, "event": base64.b64encode(entry.body).decode(),
                          "signature": base64.b64encode(entry.signature).decode()}) + "\n"


def _parse(number: int, line: str) -> dict[str, Any]:
    """One line as a JSON object, read by ``json``: what every line was read with before orjson."""
    try:
        record = json.loads(line)
    except ValueError:
        raise BundleError(f"line {number} is not JSON") from None
    if not isinstance(record, dict):
        raise BundleError(f"line {number} is not a JSON object")
    return record


def read(source: IO[str]) -> tuple[Header, list[str], Iterator[Entry]]:
    """Parse a bundle: header and checkpoints at once, the events as a stream."""
    lines = enumerate(source, start=1)
    first = next((_parse(number, line) for number, line in lines), None)
    if not first or first.get("format") != FORMAT:
        raise BundleError(f"not an audit bundle ({FORMAT})")
    header = Header(str(first.get("origin")), list(first.get("keys") or []))
    checkpoints: list[str] = []
    pending: dict[str, Any] | None = None
    for number, line in lines:
        record = _parse(number, line)
        if "checkpoint" in record:
            checkpoints.append(str(record["checkpoint"]))
            continue
        pending = record
        break
    return header, checkpoints, _events(pending, lines)


def _events(pending: dict[str, Any] | None, lines: Iterator[tuple[int, str]]) -> Iterator[Entry]:
    """The event lines as entries: parsed and base64-decoded strictly, nothing more (the verifier does the rest).

    Each line is read by orjson first; any line that does not go through the quick way (a ``seq``
    that is not an integer as orjson reads it, ``NaN``, a fault) is read again by ``_parse`` and
    ``_entry``, which give what ``json`` gives and say exactly what is wrong.
    """
    if pending:
        yield _entry(pending)
    loads, decode, new = orjson.loads, binascii.a2b_base64, tuple.__new__
    for number, line in lines:
        try:
            item = loads(line)
            seq = item["seq"]
            if type(seq) is not int:  # orjson reads integers past 64 bits as floats
                raise TypeError
            entry = new(Entry, (seq, decode(item["event"], strict_mode=True),
                                decode(item["signature"], strict_mode=True)))
        except (KeyError, TypeError, ValueError):
            entry = _entry(_parse(number, line))
        yield entry


def _entry(item: dict[str, Any]) -> Entry:
    try:
        return Entry(int(item["seq"]), base64.b64decode(item["event"], validate=True),
                     base64.b64decode(item["signature"], validate=True))
    except (KeyError, TypeError, ValueError):
        raise BundleError("an event line is malformed") from None


def verify_file(source: IO[str], trusted_keys: list[dict[str, str]] | None = None) -> Report:
    """Verify a bundle with the keys it carries, or with ``trusted_keys`` when the auditor pins them."""
    header, checkpoints, entries = read(source)
    keys = trusted_keys if trusted_keys is not None else header.keys
    trusted = [public_key_bytes(key["x"]) for key in keys if key.get("crv") == "Ed25519" and "x" in key]
    report = verify(entries, checkpoints, header.origin, trusted)
    report.extra["origin"] = header.origin
    return report
