"""Between a step's HTML form and the form document: what was posted becomes a section, and back.

Field names are document paths (``person.first_name``, ``exploitation.locations.0.type``); a
multiple choice posts one value per ticked box; a ticked checkbox posts ``true``. Nothing is
judged here: a value that is not what its field wants (``abc`` for a number) goes into the
document as typed, for the form's own schema to refuse with the field named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from .form_definition import LIST_WIDGETS, Control

INTEGER = re.compile(r"^-?[0-9]{1,16}$")
LOCAL_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?$")


class _Missing:
    """Nothing typed."""


MISSING = _Missing()


def parse_step(control: Control, posted: MultiDict[str, str]) -> Any:
    """The section a step's posted form holds, or ``MISSING`` when nothing was typed in it."""
    return _parse(control, control.path, posted)


def with_section(document: Mapping[str, Any], step: str, section: Any) -> dict[str, Any]:
    """``document`` with one section replaced (or removed, when ``section`` is ``MISSING``)."""
    changed = {key: value for key, value in document.items() if key != step}
    if section is not MISSING:
        changed[step] = section
    return changed


def _parse(control: Control, name: str, posted: MultiDict[str, str]) -> Any:
    if control.widget == "group":
        return _parse_group(control, name, posted)
    if control.widget == "items":
        items = [_parse_group(control, f"{name}.{index}", posted) for index in _indexes(name, posted)]
        kept = [item for item in items if item is not MISSING]
        return kept or MISSING
    if control.widget in LIST_WIDGETS:
        values = [value for value in posted.getlist(name) if value != ""]
        return values or MISSING
    if control.widget == "checkbox":
        value = posted.get(name)
        return True if value == "true" else (False if value is None else value)
    return _scalar(control.widget, posted.get(name, ""))


def _parse_group(control: Control, name: str, posted: MultiDict[str, str]) -> Any:
    values = {child.key: _parse(child, f"{name}.{child.key}", posted) for child in control.children}
    kept = {key: value for key, value in values.items() if value is not MISSING}
    if control.only_checkboxes:
        return kept
    if all(value is False for value in kept.values()):
        return MISSING
    return kept


def _indexes(name: str, posted: MultiDict[str, str]) -> list[int]:
    prefix = f"{name}."
    found = {key[len(prefix):].split(".", 1)[0] for key in posted if key.startswith(prefix)}
    return sorted(int(index) for index in found if index.isdigit() and len(index) < 4)


def _scalar(widget: str, value: str) -> Any:
    if value == "":
        return MISSING
    if widget == "number" and INTEGER.fullmatch(value):
        return int(value)
    if widget == "datetime" and LOCAL_DATETIME.fullmatch(value):
        return f"{value}:00+00:00" if value.count(":") == 1 else f"{value}+00:00"
    return value


def value_at(document: Any, name: str) -> Any:
    """The value at a dotted name (list items by index) in a document, or ``None``."""
    holder = document
    for part in name.split("."):
        if isinstance(holder, dict):
            holder = holder.get(part)
        elif isinstance(holder, list) and part.isdigit() and int(part) < len(holder):
            holder = holder[int(part)]
        else:
            return None
    return holder


def shown_in_input(widget: str, value: Any) -> str:
    """A stored value as its ``<input>`` shows it (a moment in UTC, without its offset, for ``datetime-local``)."""
    if value is None:
        return ""
    if widget == "datetime" and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
        except ValueError:
            return value
    return str(value)


def flat_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages (and the consent rules' dotted ones) by dotted path."""
    if isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        return {prefix: list(messages)}
    if not isinstance(messages, dict):
        return {prefix: [str(messages)]}
    found: dict[str, list[str]] = {}
    for key, inner in messages.items():
        path = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
        for where, texts in flat_errors(inner, path).items():
            found.setdefault(where, []).extend(texts)
    return found


def field_of_error(path: str, controls: Mapping[str, Control]) -> str:
    """The name of the control an error at ``path`` belongs to (a list's own index dropped)."""
    plain = ".".join(part for part in path.split(".") if not part.isdigit())
    if plain in controls and controls[plain].widget in LIST_WIDGETS and path.split(".")[-1].isdigit():
        return path.rsplit(".", 1)[0]
    return path


def without(posted: MultiDict[str, str], names: set[str]) -> MultiDict[str, str]:
    """The posted form without the fields named (and whatever lies under them)."""
    kept: MultiDict[str, str] = MultiDict()
    for key in posted:
        if key in names or any(key.startswith(f"{name}.") for name in names):
            continue
        for value in posted.getlist(key):
            kept.add(key, value)
    return kept
