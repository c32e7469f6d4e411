"""Verify an audit log from its exact bytes, its checkpoints and the service's public keys.

Pure and streaming: usable offline on an exported bundle, with no database and no app. Merkle
roots are recomputed at hash speed and compared with every signed checkpoint; only where a root
disagrees (or past the last checkpoint) are the per-position signatures checked, to name the
first position that was altered, removed, inserted or reordered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..crypto.canonical import canonical
from ..crypto.signatures import verify_ed25519
from . import merkle, notes


@dataclass(frozen=True)
class Entry:
    """One position of the log as stored or exported."""

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
    """The right edge of a Merkle tree: O(log n) memory for any number of leaves."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []
        self.size = 0

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash."""
        self.stack.append((1, leaf))
        self.size += 1
        while len(self.stack) > 1 and self.stack[-1][0] == self.stack[-2][0]:
            (width, right), (_, left) = self.stack.pop(), self.stack.pop()
            self.stack.append((width * 2, merkle.node_hash(left, right)))

    def root(self) -> bytes:
        """The current root hash."""
        if not self.stack:
            return merkle.EMPTY_ROOT
        value = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
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
        self.window: list[tuple[Entry, bytes]] = []
        self.next_checkpoint = 0

    def run(self, entries: Iterable[Entry]) -> Report:
        iterator: Iterator[Entry] = iter(entries)
        for index, entry in enumerate(iterator):
            failure = self._take(index, entry, iterator)
            if failure:
                return failure
        count = self.frontier.size
        beyond = [c for c in self.checkpoints if c.size > count]
        if beyond:
            return self._invalid(count, "truncated", f"checkpoint at size {beyond[0].size} but only {count} events")
        failure = self._localize(count)
        if failure:
            return failure
        head = {"seq": count - 1, "hash": self.frontier.root().hex(), "size": count} if count else None
        return Report(True, count, head, checkpoints_checked=len(self.checkpoints))

    def _take(self, index: int, entry: Entry, rest: Iterator[Entry]) -> Report | None:
        if entry.seq != index:
            problem = "removed" if entry.seq > index else "reordered"
            return self._invalid(index, problem, f"position {index} holds the event stored at {entry.seq}")
        if not _is_canonical(entry.body):
            return self._invalid(index, "altered", "the event's bytes are not canonical JSON")
        leaf = merkle.leaf_hash(entry.body)
        self.frontier.append(leaf)
        self.window.append((entry, leaf))
        while self.next_checkpoint < len(self.checkpoints) and \
                self.checkpoints[self.next_checkpoint].size == self.frontier.size:
            checkpoint = self.checkpoints[self.next_checkpoint]
            if self.frontier.root() != checkpoint.root:
                return self._localize(checkpoint.size, rest) or self._invalid(
                    checkpoint.size, "checkpoint", "the root differs from a signed checkpoint",
                    checkpoint=checkpoint.size)
            self.window.clear()
            self.next_checkpoint += 1
        return None

    def _localize(self, end: int, rest: Iterator[Entry] | None = None) -> Report | None:
        """Check the per-position signatures of the positions no checkpoint has covered yet."""
        first = end - len(self.window)
        for offset, (entry, leaf) in enumerate(self.window):
            if self._signed(first + offset, leaf, entry.signature):
                continue
            following = self.window[offset + 1][0] if offset + 1 < len(self.window) else \
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


def _is_canonical(body: bytes) -> bool:
    try:
        return canonical(json.loads(body)) == body
    except (ValueError, TypeError, UnicodeDecodeError):
        return False
