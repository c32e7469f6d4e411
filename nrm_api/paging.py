"""Keyset paging: the one cursor codec and the paging query.

A cursor is opaque to clients: URL-safe base64 of a small JSON value naming the last row of a page,
either by (moment, id) for lists ordered by time, or by position for the audit log.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import marshmallow as ma

from .errors import InvalidError


class PageQuerySchema(ma.Schema):
    """Keyset paging."""

    cursor = ma.fields.String()
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 500))


def _pack(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _unpack(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise _invalid() from None


def _invalid() -> InvalidError:
    return InvalidError("the cursor is not one this service gave", errors={"query": {"cursor": ["invalid"]}})


def encode(moment: datetime, ident: str) -> str:
    """A cursor after the row at ``moment`` with id ``ident``."""
    return _pack([moment.isoformat(), ident])


def decode(cursor: str) -> tuple[datetime, str]:
    """Where a cursor points; 422 for anything this service did not give."""
    try:
        moment, ident = _unpack(cursor)
        return datetime.fromisoformat(moment), str(ident)
    except (ValueError, TypeError):
        raise _invalid() from None


def encode_after(position: int) -> str:
    """A cursor after the row at ``position`` (an id that only grows)."""
    return _pack({"after": position})


def decode_after(cursor: str) -> int:
    """The position a cursor points after; 422 for anything this service did not give."""
    value = _unpack(cursor)
    after = value.get("after") if isinstance(value, dict) else None
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise _invalid()
    return after
