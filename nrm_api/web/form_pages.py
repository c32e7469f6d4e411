"""What the form's pages share: their templates' helpers, and the service's field errors as the error summary's.

Errors are the service's own (the form's schema and consent rules): each is put under the name of
the control it belongs to, with the field's label in the reader's language in front.
"""

from __future__ import annotations

from typing import Any

from flask.wrappers import Response

from ..agencies.service import require_agency
from ..errors import DomainError
from ..vocabulary import code_lists
from . import i18n
from .form_definition import STEPS, controls_by_path, field_label, step_label
from .form_messages import translated
from .form_values import field_of_error, flat_errors, shown_in_input, value_at
from .replies import refused_form, render


def helpers() -> dict[str, Any]:
    """What the form's templates use: the language, labels from the vocabulary, values at paths."""
    lang = i18n.selected()
    return {"lang": lang, "value_at": value_at, "shown_in_input": shown_in_input, "first_step": STEPS[0],
            "step_title": lambda step: step_label(step, lang),
            "code_label": lambda name, value: code_lists()[name].get(value, {}).get(lang, value or ""),
            "field_label_or_name": lambda path: label_or_name(path, lang),
            "agency_name": lambda agency_id: agency_name(agency_id, lang)}


def agency_name(agency_id: str, lang: str) -> str:
    """An agency's name in ``lang`` (its English name where it has none in that language)."""
    agency = require_agency(agency_id)
    return str({"ru": agency.name_ru, "be": agency.name_be}.get(lang) or agency.name_en)

def label_or_name(path: str, lang: str) -> str:
    """The label of a field (its item number after it), or the path itself for what has none."""
    try:
        label = field_label(path, lang)
    except KeyError:
        return path
    return label + "".join(f" ({int(part) + 1})" for part in path.split(".") if part.isdigit())

def page_of(template: str, status: int = 200, **context: Any) -> Response:
    """A form page from ``template`` with the form's helpers."""
    return render(template, status, **helpers(), **context)

def refused(template: str, error: DomainError, prefix: str = "", **context: Any) -> Response:
    """The page again with 422: the service's field errors in the error summary, the refusal audited."""
    errors = field_errors(error, prefix)
    lang = i18n.selected()
    summary = {name: f"{label_or_name(name, lang)}: {' '.join(translated(text) for text in texts)}"
               for name, texts in errors.items()}
    return refused_form(template, summary, error=error, **helpers(), **context)

def field_errors(error: DomainError, prefix: str = "") -> dict[str, list[str]]:
    """The service's field errors, by the name of the control each belongs to (under ``prefix``)."""
    messages: Any = error.errors.get("json", error.errors) if isinstance(error.errors, dict) else None
    controls = controls_by_path()
    found: dict[str, list[str]] = {}
    for path, texts in flat_errors(messages or [error.detail], prefix).items():
        found.setdefault(field_of_error(path, controls) or prefix or STEPS[0], []).extend(texts)
    return found

