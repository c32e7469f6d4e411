"""Checkpoints in the C2SP signed-note format (``tlog-checkpoint``), and per-position signatures.

A checkpoint's text is ``origin``, tree size and base64 root hash, one per line; its signature
line is ``— <key name> base64(key id ‖ Ed25519 signature)``, the key id being the first four bytes
of ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..crypto.signatures import verify_ed25519

ED25519 = b"\x01"
SIGNATURE_PREFIX = "— "
Signer = Callable[[bytes], bytes]


class NoteError(ValueError):
    """A checkpoint is malformed or not signed by a trusted key."""


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: the log at ``size`` leaves had root ``root``."""

    origin: str
    size: int
    root: bytes
    note: str


def key_id(name: str, public: bytes) -> bytes:
    """The four-byte key id of a signed-note Ed25519 key."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def verifier_key(name: str, public: bytes) -> str:
    """The note verifier key string ``name+hex(id)+base64(0x01 ‖ key)``."""
    return f"{name}+{key_id(name, public).hex()}+{base64.b64encode(ED25519 + public).decode()}"


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The signed body of a checkpoint."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign_checkpoint(origin: str, size: int, root: bytes, public: bytes, sign: Signer) -> str:
    """A signed checkpoint note."""
    text = checkpoint_text(origin, size, root)
    blob = base64.b64encode(key_id(origin, public) + sign(text.encode())).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{origin} {blob}\n"


def open_checkpoint(note: str, origin: str, trusted: Iterable[bytes]) -> Checkpoint:
    """Parse a checkpoint and check it is signed by one of the ``trusted`` public keys."""
    text, sep, signatures = note.partition("\n\n")
    lines = text.split("\n")
    if not sep or len(lines) < 3 or lines[0] != origin:
        raise NoteError("not a checkpoint of this log")
    try:
        size = int(lines[1])
        root = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error):
        raise NoteError("malformed checkpoint") from None
    if size < 0 or len(root) != 32 or str(size) != lines[1]:
        raise NoteError("malformed checkpoint")
    message = (text + "\n").encode()
    keys = {key_id(origin, public): public for public in trusted}
    for line in signatures.splitlines():
        if not line.startswith(SIGNATURE_PREFIX + origin + " "):
            continue
        try:
            blob = base64.b64decode(line.rsplit(" ", 1)[1], validate=True)
        except (ValueError, binascii.Error):
            continue
        public = keys.get(blob[:4])
        if public is not None and verify_ed25519(public, message, blob[4:]):
            return Checkpoint(origin, size, root, note)
    raise NoteError("no trusted signature on the checkpoint")


def leaf_message(origin: str, seq: int, leaf: bytes) -> bytes:
    """What the sequencer signs for each position: the log, the position, the leaf hash."""
    return f"nrm-audit-leaf/v1\n{origin}\n{seq}\n{leaf.hex()}\n".encode()
