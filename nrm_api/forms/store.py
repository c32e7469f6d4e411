"""Sealing and opening form versions under the form's data key: the forms' one door to the envelope."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from flask import current_app

from ..crypto.blind import blind_index
from ..crypto.canonical import canonical
from ..crypto.envelope import FieldPlace, new_dek, open_field, seal_field
from ..crypto.keyring import Keyring
from .models import Form, FormKey, FormVersion
from .rules import split
from .schemas import SCHEMA_VERSION


class ShreddedError(Exception):
    """The form's data key is destroyed: its sealed fields are gone."""


def keyring() -> Keyring:
    """The app's keyring."""
    ring: Keyring = current_app.extensions["nrm_keyring"]
    return ring


def new_key(form: Form) -> tuple[FormKey, bytes]:
    """A fresh data key for a new form, and its wrapped form to store."""
    dek = new_dek()
    version, wrapped = keyring().wrap_dek(dek, f"form:{form.id}")
    return FormKey(form_id=form.id, kek_version=version, wrapped_dek=wrapped), dek


def open_key(key: FormKey | None) -> bytes:
    """Unwrap a form's data key."""
    if key is None or key.wrapped_dek is None:
        raise ShreddedError("the form has been crypto-shredded")
    return keyring().unwrap_dek(key.kek_version, key.wrapped_dek, f"form:{key.form_id}")


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
