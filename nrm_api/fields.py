"""Schema base fields and the base schema: what every schema uses where marshmallow's own defaults are too lenient.

Fields carry their ``x-sensitivity`` class and description in their metadata (``meta``); code-list
fields take their codes from ``vocabulary.yaml``.

``Regexp`` uses ``re.match``, where ``^…$`` accepts a trailing newline (``"evil"`` and a line feed); ``Boolean``
takes ``1``/``0`` (and ``"yes"``, ``"on"``…) for ``true``/``false``, and even with ``truthy={True}``
lets ``1`` in, since ``1 == True``. These accept exactly what the JSON Schema says.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from .vocabulary import codes

SENSITIVITY = "x-sensitivity"
PUBLIC, IDENTIFYING, SPECIAL, INVESTIGATIVE = "public", "identifying", "special", "investigative"


class FullMatch(ma.validate.Regexp):
    """A pattern the whole value must match (``re.fullmatch``); the OpenAPI ``pattern`` keeps its anchors."""

    def __call__(self, value: Any) -> Any:
        """Refuse a value the pattern does not match from its first character to its last."""
        if not isinstance(value, str | bytes) or self.regex.fullmatch(value) is None:  # type: ignore[arg-type]
            raise ma.ValidationError(self._format_error(value))
        return value


class StrictBoolean(ma.fields.Boolean):
    """JSON ``true`` or ``false``, nothing else (no ``1``/``0``, no strings)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value



#: The largest integer every JSON parser reads exactly (RFC 8785, I-JSON): the bound of every integer we take.
MAX_SAFE_INTEGER = 2**53 - 1


class StrictInteger(ma.fields.Integer):
    """A JSON integer, as JSON Schema's ``integer`` means it: ``7`` and ``7.0``, never ``7.5``, ``"7"`` or ``true``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        return int(value)


class QueryBoolean(ma.fields.Boolean):
    """A query-string flag: exactly ``true`` or ``false`` (no ``1``, ``yes``, ``on``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value not in ("true", "false") or not isinstance(value, str):
            raise self.make_error("invalid", input=value)
        return value == "true"


def meta(sensitivity: str, description: str, **extra: Any) -> dict[str, Any]:
    """Field metadata: its sensitivity class and description (and any ``x-`` extension)."""
    return {SENSITIVITY: sensitivity, "description": description, **extra}


def text(sensitivity: str, description: str, length: int = 200, **kwargs: Any) -> ma.fields.String:
    """A free-text field."""
    return ma.fields.String(validate=ma.validate.Length(1, length), metadata=meta(sensitivity, description),
                            **kwargs)


def code(name: str, sensitivity: str, description: str, **kwargs: Any) -> ma.fields.String:
    """A value from the code list ``name``."""
    return ma.fields.String(validate=ma.validate.OneOf(codes(name)),
                            metadata=meta(sensitivity, description, **{"x-code-list": name}), **kwargs)


def codes_of(name: str, sensitivity: str, description: str, at_least: int = 0,
             **kwargs: Any) -> ma.fields.List[Any]:
    """Several values from the code list ``name``, none twice."""
    return ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(codes(name))),
                          validate=[ma.validate.Length(min=at_least), _distinct],
                          metadata=meta(sensitivity, description, uniqueItems=True, **{"x-code-list": name}),
                          **kwargs)


def _distinct(values: list[Any]) -> None:
    if len(set(values)) != len(values):
        raise ma.ValidationError("a value is given twice")


def flag(sensitivity: str, description: str, **kwargs: Any) -> ma.fields.Boolean:
    """A yes/no field (JSON true or false only)."""
    return StrictBoolean(metadata=meta(sensitivity, description), **kwargs)


class Strict(ma.Schema):
    """Unknown fields are an error, never ignored."""

    class Meta:
        unknown = ma.RAISE
