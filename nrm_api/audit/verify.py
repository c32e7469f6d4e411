"""Verify an audit log from its exact bytes, its checkpoints and the service's public keys.

Pure and streaming: usable offline on an exported bundle, with no database and no app. Merkle
roots are recomputed at hash speed and compared with every signed checkpoint; only where a root
disagrees (or past the last checkpoint) are the per-position signatures checked, to name the
first position that was altered, removed, inserted or reordered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import chain, compress, repeat
from operator import is_
from typing import Any, NamedTuple

import orjson

from ..crypto.canonical import NotCanonicalizable, canonical, is_plain
from ..crypto.signatures import verify_ed25519
from . import merkle, notes

#: Positions hashed between two checks of their bytes' canonical form, where no checkpoint comes sooner.
CANONICAL_BATCH = 1024
_sha256 = hashlib.sha256


class Entry(NamedTuple):
    """One position of the log as stored or exported (a tuple: a million are made per verification)."""

    seq: int
    body: bytes
    signature: bytes


@dataclass
class Report:
    """The verdict, in the shape ``GET /audit/verify`` answers."""

    valid: bool
    events_checked: int
    head: dict[str, Any] | None
    first_invalid_seq: int | None = None
    problem: str | None = None
    detail: str | None = None
    checkpoints_checked: int = 0
    invalid_checkpoint: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        data = asdict(self)
        data.update(data.pop("extra"))
        return data


class Frontier:
    """The right edge of a Merkle tree: O(log n) memory for any number of leaves.

    ``stack`` holds the roots of the perfect subtrees that make up the tree, largest first: one for
    each bit set in ``size``, so a leaf completes one subtree for each low bit of ``size`` that is set.
    """

    def __init__(self) -> None:
        self.stack: list[bytes] = []
        self.size = 0

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash."""
        stack, value, size = self.stack, leaf, self.size
        while size & 1:
            value = _sha256(b"\x01" + stack.pop() + value).digest()
            size >>= 1
        stack.append(value)
        self.size += 1

    def root(self) -> bytes:
        """The current root hash."""
        if not self.stack:
            return merkle.EMPTY_ROOT
        value = self.stack[-1]
        for left in reversed(self.stack[:-1]):
            value = merkle.node_hash(left, value)
        return value


def verify(entries: Iterable[Entry], checkpoint_notes: Sequence[str], origin: str,
           trusted: Sequence[bytes]) -> Report:
    """Verify the log: every checkpoint signed, every root recomputed, every position accounted for."""
    checkpoints: list[notes.Checkpoint] = []
    for note in checkpoint_notes:
        try:
            checkpoints.append(notes.open_checkpoint(note, origin, trusted))
        except notes.NoteError as error:
            size = _claimed_size(note)
            return Report(False, 0, None, first_invalid_seq=size, problem="checkpoint", invalid_checkpoint=size,
                          detail=f"checkpoint{'' if size is None else f' at size {size}'} does not verify: {error}")
    checkpoints.sort(key=lambda c: c.size)
    return _Walk(origin, trusted, checkpoints).run(entries)


def _claimed_size(note: str) -> int | None:
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else None


class _Walk:
    def __init__(self, origin: str, trusted: Sequence[bytes], checkpoints: list[notes.Checkpoint]) -> None:
        self.origin, self.trusted, self.checkpoints = origin, trusted, checkpoints
        self.frontier = Frontier()
        self.window: list[Entry] = []  # the positions since the last checkpoint that matched
        self.checked = 0  # how many of them are known to be canonical
        self.next_checkpoint = 0

    def run(self, entries: Iterable[Entry]) -> Report:
        """Hash every position in a tight loop; stop at each checkpoint, and every ``CANONICAL_BATCH`` positions."""
        iterator: Iterator[Entry] = iter(entries)
        frontier, window = self.frontier, self.window
        push, pop, sha256 = frontier.stack.append, frontier.stack.pop, _sha256
        index, stop = 0, self._stop(0)
        for entry in iterator:
            if entry[0] != index:
                frontier.size = index
                problem = "removed" if entry[0] > index else "reordered"
                return self._check_canonical() or self._invalid(
                    index, problem, f"position {index} holds the event stored at {entry[0]}")
            window.append(entry)
            value, size = sha256(b"\x00" + entry[1]).digest(), index
            while size & 1:  # Frontier.append, inlined: this loop is the verifier's speed
                value = sha256(b"\x01" + pop() + value).digest()
                size >>= 1
            push(value)
            index += 1
            if index == stop:
                frontier.size = index
                failure = self._check_canonical() or self._at_checkpoints(iterator)
                if failure:
                    return failure
                stop = self._stop(index)
        frontier.size = index
        return self._check_canonical() or self._finish(index)

    def _stop(self, index: int) -> int:
        """The next position count at which to check: a checkpoint's size, or a batch of bytes to check."""
        batch = index - len(self.window) + self.checked + CANONICAL_BATCH
        if self.next_checkpoint < len(self.checkpoints) and self.checkpoints[self.next_checkpoint].size > index:
            return min(batch, self.checkpoints[self.next_checkpoint].size)
        return batch

    def _at_checkpoints(self, rest: Iterator[Entry]) -> Report | None:
        while self.next_checkpoint < len(self.checkpoints) and \
                self.checkpoints[self.next_checkpoint].size == self.frontier.size:
            checkpoint = self.checkpoints[self.next_checkpoint]
            if self.frontier.root() != checkpoint.root:
                return self._localize(checkpoint.size, rest) or self._invalid(
                    checkpoint.size, "checkpoint", "the root differs from a signed checkpoint",
                    checkpoint=checkpoint.size)
            self.window.clear()
            self.checked = 0
            self.next_checkpoint += 1
        return None

    def _finish(self, count: int) -> Report:
        beyond = [c for c in self.checkpoints if c.size > count]
        if beyond:
            return self._invalid(count, "truncated", f"checkpoint at size {beyond[0].size} but only {count} events")
        failure = self._localize(count)
        if failure:
            return failure
        head = {"seq": count - 1, "hash": self.frontier.root().hex(), "size": count} if count else None
        return Report(True, count, head, checkpoints_checked=len(self.checkpoints))

    def _check_canonical(self) -> Report | None:
        """Check the bytes of the window's positions not checked yet: the first that is not canonical fails."""
        bad = first_non_canonical([entry[1] for entry in self.window[self.checked:]])
        if bad is None:
            self.checked = len(self.window)
            return None
        position = self.frontier.size - len(self.window) + self.checked + bad
        return Report(False, position, None, first_invalid_seq=position, problem="altered",
                      detail="the event's bytes are not canonical JSON", checkpoints_checked=self.next_checkpoint)

    def _localize(self, end: int, rest: Iterator[Entry] | None = None) -> Report | None:
        """Check the per-position signatures of the positions no checkpoint has covered yet."""
        first = end - len(self.window)
        for offset, entry in enumerate(self.window):
            if self._signed(first + offset, merkle.leaf_hash(entry.body), entry.signature):
                continue
            following = self.window[offset + 1] if offset + 1 < len(self.window) else \
                next(rest, None) if rest is not None else None
            return self._invalid(first + offset, self._kind(first + offset, entry, following),
                                 "the position's signature fails")
        return None

    def _kind(self, position: int, entry: Entry, following: Entry | None) -> str:
        """Say how a position went wrong, from where its signature does verify."""
        leaf = merkle.leaf_hash(entry.body)
        if any(self._signed(other, leaf, entry.signature) for other in range(max(0, position - 8), position + 9)
               if other != position):
            return "removed" if self._signed(position + 1, leaf, entry.signature) else "reordered"
        if following is not None and self._signed(position, merkle.leaf_hash(following.body), following.signature):
            return "inserted"
        return "altered"

    def _signed(self, position: int, leaf: bytes, signature: bytes) -> bool:
        message = notes.leaf_message(self.origin, position, leaf)
        return any(verify_ed25519(key, message, signature) for key in self.trusted)

    def _invalid(self, position: int, problem: str, detail: str, checkpoint: int | None = None) -> Report:
        return Report(False, self.frontier.size, None, first_invalid_seq=position, problem=problem, detail=detail,
                      checkpoints_checked=self.next_checkpoint, invalid_checkpoint=checkpoint)


_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_SCALARS = frozenset({str, int, bool, type(None)})


def _flat(values: list[Any]) -> bool:
    """Whether every value is an object of strings, integers, booleans, nulls and lists of them: no float.

    Walked by ``map`` and ``chain``, not a Python loop: this runs for every event of a bundle.
    """
    if set(map(type, values)) != {dict}:
        return False
    members = list(chain.from_iterable(map(dict.values, values)))
    kinds = set(map(type, members))
    if list in kinds:
        lists = compress(members, map(is_, map(type, members), repeat(list)))
        if not set(map(type, chain.from_iterable(lists))) <= _SCALARS:
            return False
        kinds.discard(list)
    return kinds <= _SCALARS


def first_non_canonical(bodies: list[bytes]) -> int | None:
    """The index of the first of ``bodies`` that is not RFC 8785 canonical JSON, or ``None``.

    Checked as a batch, exactly: each body parsed alone by orjson, all of them serialised again in
    one call (sorted keys, integers within ±2**53) and compared with the bodies joined as an array.
    For objects of strings, safe integers, booleans, nulls and lists of them (no floats), with ASCII
    member names, that serialisation *is* RFC 8785 (orjson escapes every character as ``json.dumps``
    does, which a test checks over all of Unicode), and the joined bytes match only if each body
    does. Any batch that does not pass is checked body by body with ``canonical``.
    """
    if not bodies:
        return None
    try:
        values = list(map(orjson.loads, bodies))
        joined = b"[" + b",".join(bodies) + b"]"
        if orjson.dumps(values, option=_SORTED) == joined and _flat(values) and (
                joined.isascii() or all(is_plain(value) for value, body in zip(values, bodies, strict=True)
                                        if not body.isascii())):
            return None
    except (ValueError, TypeError):  # orjson's decode and encode errors: the slow way decides
        pass
    return next((index for index, body in enumerate(bodies) if not _is_canonical(body)), None)


def _is_canonical(body: bytes) -> bool:
    try:
        return canonical(json.loads(body)) == body
    except (ValueError, TypeError, UnicodeDecodeError, NotCanonicalizable):  # no canonical form: not canonical
        return False
