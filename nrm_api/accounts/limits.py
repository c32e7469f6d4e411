"""Sign-in throttles: failures are counted per account, account+address, address and device.

Nothing locks an account for everyone. A caller without a device token for the account it names
is held to three sliding 15-minute windows: 10 failures for the account, 5 for the account from
one address, and a much higher ceiling (100) for one address, so one office behind a NAT is not
shut out by one colleague's typing or one infected machine. A caller that presents the device
token the account's last sign-in on that device returned is held only to its own window for that
device: a guesser elsewhere cannot lock the owner out.

Each attempt takes a slot in its windows *before* its credentials are checked, atomically across
workers and nodes, and gives it back when it succeeds: parallel guesses cannot overrun a limit.
The windows live in Redis when ``NRM_REDIS_URL`` is set, else in the database, never per process.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from typing import Protocol

from flask import current_app

from ..errors import DomainError
from .throttle_store import DatabaseStore, RedisStore, Window

ACCOUNT_LIMIT = 10
ACCOUNT_ADDRESS_LIMIT = 5
ADDRESS_LIMIT = 100
DEVICE_LIMIT = 10


@dataclass(frozen=True)
class Reservation:
    """The slots one attempt holds, given back if it succeeds."""

    windows: tuple[Window, ...]
    ticket: str


class Throttled(DomainError):
    """Too many failures in a window: the same answer whether or not the account exists."""

    status, slug, title = 429, "rate-limited", "Too many attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed sign-in attempts; try again later")
        self.headers = {"Retry-After": str(retry_after)}


class Store(Protocol):
    """Where the windows live."""

    def reserve(self, windows: tuple[Window, ...], ticket: str, now: float) -> float:
        """Take a slot in every window, or none; return 0, or the seconds until one frees."""

    def release(self, windows: tuple[Window, ...], ticket: str) -> None:
        """Give the attempt's slots back."""


def windows_for(username: str, address: str, device: str | None) -> tuple[Window, ...]:
    """The windows an attempt counts against."""
    account = username.lower()
    if device is not None:
        return (Window(_key("device", account, device), DEVICE_LIMIT),)
    return (Window(_key("account", account), ACCOUNT_LIMIT),
            Window(_key("account-address", account, address), ACCOUNT_ADDRESS_LIMIT),
            Window(_key("address", address), ADDRESS_LIMIT))


def reserve(windows: tuple[Window, ...], now: float) -> Reservation:
    """Take the attempt's slots, or raise ``Throttled`` with the seconds to wait."""
    ticket = uuid.uuid4().hex
    wait = store().reserve(windows, ticket, now)
    if wait:
        raise Throttled(max(1, math.ceil(wait)))
    return Reservation(windows, ticket)


def release(reservation: Reservation) -> None:
    """The attempt succeeded: it is no failure."""
    store().release(reservation.windows, reservation.ticket)


def store() -> Store:
    """The app's store: Redis if configured, else the database."""
    found: Store | None = current_app.extensions.get("nrm_login_throttle")
    if found is None:
        url = current_app.config.get("REDIS_URL")
        prefix = str(current_app.config["REDIS_KEY_PREFIX"])
        found = RedisStore(url, prefix) if url else DatabaseStore()
        current_app.extensions["nrm_login_throttle"] = found
    return found


def _key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(("nrm-login", *parts)).encode()).hexdigest()
