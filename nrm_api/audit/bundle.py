"""Audit bundles: the exact event bytes, the checkpoints and the public keys, in one JSON Lines file.

``read`` and ``verify_file`` need nothing but this module's pure dependencies: an auditor verifies
a bundle offline, with no database and no configuration.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

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


def _lines(source: IO[str]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(source, start=1):
        try:
            record = json.loads(line)
        except ValueError:
            raise BundleError(f"line {number} is not JSON") from None
        if not isinstance(record, dict):
            raise BundleError(f"line {number} is not a JSON object")
        yield record


def read(source: IO[str]) -> tuple[Header, list[str], Iterator[Entry]]:
    """Parse a bundle: header and checkpoints at once, the events as a stream."""
    records = _lines(source)
    first = next(records, None)
    if not first or first.get("format") != FORMAT:
        raise BundleError(f"not an audit bundle ({FORMAT})")
    header = Header(str(first.get("origin")), list(first.get("keys") or []))
    checkpoints: list[str] = []
    pending: dict[str, Any] | None = None
    for record in records:
        if "checkpoint" in record:
            checkpoints.append(str(record["checkpoint"]))
            continue
        pending = record
        break

    def events() -> Iterator[Entry]:
        for record in ([pending] if pending else []), records:
            for item in record:
                try:
                    yield Entry(int(item["seq"]), base64.b64decode(item["event"], validate=True),
                                base64.b64decode(item["signature"], validate=True))
                except (KeyError, TypeError, ValueError):
                    raise BundleError("an event line is malformed") from None

    return header, checkpoints, events()


def verify_file(source: IO[str], trusted_keys: list[dict[str, str]] | None = None) -> Report:
    """Verify a bundle with the keys it carries, or with ``trusted_keys`` when the auditor pins them."""
    header, checkpoints, entries = read(source)
    keys = trusted_keys if trusted_keys is not None else header.keys
    trusted = [public_key_bytes(key["x"]) for key in keys if key.get("crv") == "Ed25519" and "x" in key]
    report = verify(entries, checkpoints, header.origin, trusted)
    report.extra["origin"] = header.origin
    return report
