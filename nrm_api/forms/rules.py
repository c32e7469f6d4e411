"""The form's rules, pure: no Flask, no database.

Which fields are sealed, how a document splits and rejoins, who is a child, what consent allows.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

import marshmallow as ma

from ..fields import IDENTIFYING, PUBLIC, SENSITIVITY
from ..vocabulary import codes
from .document import FormDocumentSchema

ADULT_AGE = 18
#: CTDC age bands with an upper bound, as (oldest age, code), from the vocabulary's ``age_band`` ("48+" is open).
AGE_BANDS = tuple((int(band.split("--")[1]), band) for band in codes("age_band") if "--" in band)


@cache
def sealed_paths() -> dict[str, str]:
    """Every field stored encrypted, by dotted path, with its sensitivity."""
    return dict(_walk(FormDocumentSchema(), ""))


def _walk(schema: ma.Schema, prefix: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name, field in schema.fields.items():
        path = f"{prefix}{field.data_key or name}"
        sensitivity = field.metadata.get(SENSITIVITY, PUBLIC)
        if sensitivity != PUBLIC:
            found.append((path, sensitivity))
        elif isinstance(field, ma.fields.Nested) and isinstance(field.schema, ma.Schema):
            found.extend(_walk(field.schema, f"{path}."))
    return found


def split(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate the public part of a document from the values to seal, by path."""
    public: dict[str, Any] = _copied(document)
    sealed: dict[str, Any] = {}
    for path in sealed_paths():
        *parents, leaf = path.split(".")
        holder: Any = public
        for parent in parents:
            holder = holder.get(parent) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and leaf in holder:
            sealed[path] = holder.pop(leaf)
    return public, sealed


def _copied(value: Any) -> Any:
    """A copy of a JSON value (objects and arrays copied, the rest immutable): deepcopy's result, faster."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


def merge(public: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Put opened values back in their places: the inverse of ``split``."""
    document: dict[str, Any] = _copied(public)
    for path, value in values.items():
        *parents, leaf = path.split(".")
        holder = document
        for parent in parents:
            holder = holder.setdefault(parent, {})
        holder[leaf] = value
    return document


def age_on(birthdate: date, day: date) -> int:
    """Full years of age on ``day``."""
    return day.year - birthdate.year - ((day.month, day.day) < (birthdate.month, birthdate.day))


def age_band(age: int) -> str:
    """The CTDC age band of an age."""
    return next((band for upper, band in AGE_BANDS if age <= upper), "48+")


def is_child(document: dict[str, Any], today: date) -> bool:
    """Under 18 on ``today`` by the date of birth, or presumed a child while the age is disputed.

    The birthdate decides when there is one: ``is_minor`` is what was true when the form was
    written, and a person who has since turned 18 is an adult who must consent. Without a
    birthdate, the declared ``is_minor`` is all there is to go on.
    """
    child = document.get("child") or {}
    if child.get("age_disputed"):
        return True
    birthdate = (document.get("person") or {}).get("birthdate")
    if birthdate:
        return age_on(date.fromisoformat(birthdate), today) < ADULT_AGE
    return bool(child.get("is_minor"))


def minor_errors(document: dict[str, Any], today: date) -> dict[str, Any]:
    """``child.is_minor`` contradicting the birthdate, unless the age is disputed (the birthdate would win)."""
    child = document.get("child") or {}
    birthdate = (document.get("person") or {}).get("birthdate")
    if "is_minor" not in child or child.get("age_disputed") or not birthdate:
        return {}
    if bool(child["is_minor"]) == (age_on(date.fromisoformat(birthdate), today) < ADULT_AGE):
        return {}
    return {"child": {"is_minor": ["contradicts person.birthdate: set child.age_disputed if the age is in doubt"]}}


def consent_errors(document: dict[str, Any], today: date) -> dict[str, Any]:
    """What the consent rules refuse in a (schema-valid) document, as field errors."""
    contradiction = minor_errors(document, today)
    if contradiction:
        return contradiction
    if is_child(document, today):
        if not (document.get("child") or {}).get("legal_representative"):
            return {"child": {"legal_representative": ["a child's legal representative must be recorded"]}}
        return {}
    if document["consent"]["purposes"]["identification"]:
        return {}
    _, sealed = split(document)
    present = sorted(path for path in sealed if sealed_paths()[path] == IDENTIFYING)
    if present:
        return {path: ["an adult who has not consented to identification is an anonymous notification: "
                       "no identifying field"] for path in present}
    return {}


def consent_allows(document: dict[str, Any], purpose: str, agency_id: str, agency_kind: str, today: date) -> bool:
    """Whether the consent recorded covers sending the data to an agency for a purpose (a child: always)."""
    return consented(document, purpose, agency_id, agency_kind) or is_child(document, today)


def consented(document: dict[str, Any], purpose: str, agency_id: str, agency_kind: str) -> bool:
    """Whether the person consented to their data going to an agency for a purpose.

    Consent names its recipients: none named (or the list missing) means nobody, never everybody.
    """
    consent = document["consent"]
    if not consent["purposes"].get(purpose):
        return False
    recipients = consent.get("recipients") or []
    return agency_id in recipients or f"kind:{agency_kind}" in recipients
