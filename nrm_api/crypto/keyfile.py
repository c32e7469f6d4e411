"""The keyring's file: private JSON, read again whenever it changes on disk, replaced atomically.

Every process (web workers, the audit sequencer, the webhook deliverer, the CLI) keeps the file's
keys in memory and compares the file's identity (device, inode, size, mtime, mode) with what it
loaded on each use: one ``stat``, so a ``keys rotate`` run elsewhere is seen at the next wrap,
without a restart. Writers take an exclusive lock beside the file, re-read it, and replace it with
``os.replace``, so a reader never sees half a file and two operators never lose each other's change.
"""

from __future__ import annotations

import base64
import copy
import fcntl
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from .errors import KeyringError

T = TypeVar("T")


def b64u(data: bytes) -> str:
    """Base64url without padding, as JOSE writes it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _stamp(status: os.stat_result) -> tuple[int, ...]:
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_mode


def read_private(path: Path) -> tuple[tuple[int, ...], dict[str, Any]]:
    """Read the file and its identity, refusing one that its group or other users may open."""
    try:
        with path.open("rb") as handle:
            status = os.fstat(handle.fileno())
            if status.st_mode & 0o077:
                raise KeyringError(f"the keyring {path} is open to other users (mode {status.st_mode & 0o777:04o}):"
                                   f" run `chmod 600 {path}`, and rotate its keys if others may have read it")
            data = json.loads(handle.read())
    except FileNotFoundError:
        raise KeyringError(f"no keyring at {path}: create one with `nrm-api keys init`") from None
    except (OSError, ValueError) as error:
        raise KeyringError(f"cannot read the keyring at {path}: {type(error).__name__}") from None
    if not isinstance(data, dict):
        raise KeyringError(f"{path} is not an nrm keyring")
    return _stamp(status), data


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically with ``data``, readable by its owner only."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the exclusive lock of ``path``'s writers (a lock file beside it)."""
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """One reading of the file: its identity, its JSON and what was built from it."""

    stamp: tuple[int, ...]
    data: dict[str, Any]
    value: T


class KeyFile(Generic[T]):
    """A private JSON file and what ``parse`` builds from it, kept current with the disk."""

    def __init__(self, path: Path, parse: Callable[[dict[str, Any], Path], T]) -> None:
        self.path = path
        self._parse = parse
        self._mutex = threading.Lock()
        self._loaded = self._read()

    def _read(self) -> Loaded[T]:
        stamp, data = read_private(self.path)
        return Loaded(stamp, data, self._parse(data, self.path))

    def current(self) -> Loaded[T]:
        """What the file holds now: read again if it changed since the last reading."""
        loaded = self._loaded
        try:
            stamp = _stamp(os.stat(self.path))
        except FileNotFoundError:
            return loaded  # a vanished file is an operator's mistake; the keys in memory are still right
        if stamp == loaded.stamp:
            return loaded
        with self._mutex:
            if self._loaded is loaded:
                self._loaded = self._read()
            return self._loaded

    def update(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Apply ``change`` to the newest content and replace the file, under the writers' lock."""
        with locked(self.path), self._mutex:
            data = copy.deepcopy(read_private(self.path)[1])
            change(data)
            self._parse(data, self.path)  # refuse to write what could not be loaded again
            write_private(self.path, data)
            self._loaded = self._read()
