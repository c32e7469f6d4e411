"""The subject access report as a document: print-ready HTML in the person's language, signed.

One self-contained file: no script, no external resource (its one stylesheet inline, print rules
included), every label from the web catalogs (Flask-Babel) and the vocabulary in ``ru``, ``be`` or
``en``. ``referrals.subject_access.sign`` appends the service's detached JWS over its bytes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale

from ..agencies.models import Agency
from ..audit.actor import Actor
from ..extensions import db
from ..referrals import subject_access
from ..vocabulary import code_lists
from .form_definition import controls_by_path, field_label, step_label

LANGUAGES = ("ru", "be", "en")
TEMPLATE = "subject_access/report.html"
_STYLE = re.compile(rb"<style>(.*?)</style>", re.S)


def _rows(document: Any, lang: str, prefix: str = "") -> list[tuple[str, str]]:
    """``(label, value)`` for every leaf of a document, in its order."""
    if isinstance(document, dict):
        return [row for key, value in document.items() for row in _rows(value, lang, f"{prefix}{key}.")]
    if isinstance(document, list) and any(isinstance(item, dict) for item in document):
        return [row for index, item in enumerate(document) for row in _rows(item, lang, f"{prefix}{index}.")]
    path = prefix.rstrip(".")
    return [(_label(path, lang), _value(path, document, lang))]


def _label(path: str, lang: str) -> str:
    try:
        return field_label(path, lang)
    except KeyError:
        return path


def _value(path: str, value: Any, lang: str) -> str:
    plain = ".".join(part for part in path.split(".") if not part.isdigit())
    control = controls_by_path().get(plain)
    codes = code_lists().get(control.code_list or "", {}) if control is not None else {}
    if isinstance(value, list):
        return ", ".join(_value(path, item, lang) for item in value)
    if isinstance(value, bool):
        return {"ru": ("да", "нет"), "be": ("так", "не"), "en": ("yes", "no")}[lang][0 if value else 1]
    if value is None:
        return "—"
    return codes.get(str(value), {}).get(lang, str(value))


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def render(report: subject_access.Report, lang: str) -> bytes:
    """The report's HTML in ``lang`` (unsigned)."""
    names = {agency.id: getattr(agency, f"name_{lang}") for agency in db.session.query(Agency)}
    with force_locale(lang):
        # the app's Jinja environment (its gettext), none of the pages' context: no request is needed
        html = current_app.jinja_env.get_template(TEMPLATE).render(
            r=report, lang=lang, rows=lambda document: _rows(document, lang),
            agency=lambda agency_id: names.get(agency_id or "", agency_id or "—"), when=_when,
            code=lambda code_list, value: code_lists()[code_list].get(value, {}).get(lang, value),
            step=lambda name: step_label(name, lang) if name in controls_by_path() else name)
    return html.encode("utf-8")


def signed(report: subject_access.Report, lang: str) -> bytes:
    """The report's HTML with its signature line."""
    return subject_access.sign(render(report, lang))


def download(actor: Actor, form_id: str, lang: str) -> bytes:
    """The signed report of ``form_id`` for a person of an authority (the web page); the access committed."""
    document = signed(subject_access.gather_for_authority(actor, form_id), lang)
    db.session.commit()
    return document


def style_hash(document: bytes) -> str:
    """The CSP source of the document's inline stylesheet (``'sha256-…'``), for serving it as a page."""
    match = _STYLE.search(document)
    digest = hashlib.sha256(match.group(1) if match else b"").digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"
