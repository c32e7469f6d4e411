"""Keyset paging: the one cursor codec (an opaque token naming a page's last row by (moment, id)) and its query."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import marshmallow as ma

from .errors import InvalidError


class PageQuerySchema(ma.Schema):
    """Keyset paging."""

    cursor = ma.fields.String()
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 500))


def encode(moment: datetime, ident: str) -> str:
    """A cursor after the row at ``moment`` with id ``ident``."""
    raw = json.dumps([moment.isoformat(), ident]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, str]:
    """Where a cursor points; 422 for anything this service did not give."""
    try:
        moment, ident = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(moment), str(ident)
    except (ValueError, TypeError):
        raise InvalidError("the cursor is not one this service gave",
                           errors={"query": {"cursor": ["invalid"]}}) from None
