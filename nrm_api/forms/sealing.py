"""Sealing and opening form versions under the form's data key: the forms' one door to the envelope."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from sqlalchemy import text

from ..crypto.blind import blind_index
from ..crypto.canonical import canonical
from ..crypto.envelope import FieldPlace, new_dek, open_field, seal_field
from ..crypto.errors import KeyringError
from ..extensions import db, keyring
from .document import SCHEMA_VERSION
from .models import Form, FormDraft, FormKey, FormVersion
from .rules import split


class ShreddedError(Exception):
    """The form's data key is destroyed: its sealed fields are gone."""


#: The advisory lock of data-key wrapping ('NRMK'): shared by each wrap, exclusive for a KEK's retirement.
KEK_LOCK = 0x4E524D4B


def hold_keys(exclusive: bool = False) -> None:
    """Hold the KEK lock until the transaction ends: shared to wrap data keys, exclusive to retire a KEK."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        session.execute(text(f"SELECT {function}(:key)"), {"key": KEK_LOCK})
    else:
        # SQLite has one writer at a time: take the write lock now, so that no retirement runs
        # between reading the newest KEK version and committing the data key wrapped under it
        session.execute(text("UPDATE form_keys SET kek_version = kek_version WHERE 0"))


def wrap_new(dek: bytes, context: str) -> tuple[int, bytes]:
    """Wrap a data key under the newest KEK, holding the KEK lock until it is committed."""
    hold_keys()
    return keyring().wrap_dek(dek, context)


def new_key(form: Form) -> tuple[FormKey, bytes]:
    """A fresh data key for a new form, and its wrapped form to store."""
    dek = new_dek()
    version, wrapped = wrap_new(dek, f"form:{form.id}")
    return FormKey(form_id=form.id, kek_version=version, wrapped_dek=wrapped), dek


def open_key(key: FormKey | None) -> bytes:
    """Unwrap a form's data key."""
    if key is None or key.wrapped_dek is None:
        raise ShreddedError("the form has been crypto-shredded")
    return unwrap_stored(key, f"form:{key.form_id}")


#: The data key unwrapped last in this session, by what it was unwrapped from: a request that opens one
#: form's fields in several places (consent, the fields, a decision's note) unwraps its key once.
_LAST_DEK = "nrm_last_dek"


def unwrap_stored(row: FormKey | FormDraft, context: str) -> bytes:
    """Unwrap a stored data key; read its row again if its KEK was retired since it was read."""
    wrapped = (row.kek_version, _wrapped(row), context)
    last = db.session.info.get(_LAST_DEK)
    if last is not None and last[0] == wrapped:
        return bytes(last[1])
    try:
        dek = keyring().unwrap_dek(row.kek_version, _wrapped(row), context)
    except KeyringError:
        db.session.refresh(row)  # rewrapped by `keys rewrap` meanwhile: the row now names a newer KEK
        dek = keyring().unwrap_dek(row.kek_version, _wrapped(row), context)
        wrapped = (row.kek_version, _wrapped(row), context)
    db.session.info[_LAST_DEK] = (wrapped, dek)
    return dek


def _wrapped(row: FormKey | FormDraft) -> bytes:
    if row.wrapped_dek is None:
        raise ShreddedError("the form has been crypto-shredded")
    return row.wrapped_dek


def place(form: Form, version: int, path: str) -> FieldPlace:
    """Where a field of a version belongs: what its ciphertext is bound to."""
    return FieldPlace("form", f"{form.id}/v{version}", path, SCHEMA_VERSION, form.agency_id)


def seal_values(values: dict[str, Any], dek: bytes, where: Callable[[str], FieldPlace]) -> dict[str, str]:
    """Seal each value for its place, base64 for storage."""
    return {path: base64.b64encode(seal_value(dek, where(path), value)).decode() for path, value in values.items()}


def open_values(sealed: dict[str, str], dek: bytes, where: Callable[[str], FieldPlace],
                paths: Iterable[str]) -> dict[str, Any]:
    """Open the values asked for."""
    return {path: open_value(dek, where(path), base64.b64decode(sealed[path])) for path in paths if path in sealed}


def seal_value(dek: bytes, where: FieldPlace, value: Any) -> bytes:
    """Seal one JSON value."""
    return seal_field(dek, canonical(value), where)


def open_value(dek: bytes, where: FieldPlace, sealed: bytes) -> Any:
    """Open one JSON value."""
    return json.loads(open_field(dek, sealed, where))


def seal_document(
    form: Form, version: int, document: dict[str, Any], dek: bytes
) -> tuple[dict[str, Any], dict[str, str]]:
    """The public part of a document and its other fields sealed one by one."""
    public, values = split(document)
    return public, seal_values(values, dek, lambda path: place(form, version, path))


def open_paths(form: Form, row: FormVersion, dek: bytes, paths: Iterable[str]) -> dict[str, Any]:
    """Open only the fields asked for (need-to-know: nothing else is decrypted)."""
    return open_values(row.sealed, dek, lambda path: place(form, row.version, path), paths)


def name_indexes(document: dict[str, Any]) -> set[str]:
    """Blind indexes of every spelling of the person's name with their date of birth."""
    person = document.get("person") or {}
    birthdate = person.get("birthdate")
    if not birthdate:
        return set()
    date.fromisoformat(birthdate)
    key = keyring().blind_index_key
    spellings = [(person.get("first_name"), person.get("second_name")),
                 (person.get("first_name_cyrillic"), person.get("second_name_cyrillic"))]
    return {blind_index(key, f"{first} {second}", birthdate) for first, second in spellings if first and second}
