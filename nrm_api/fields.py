"""Schema base fields: what every schema uses where marshmallow's own defaults are too lenient.

``Regexp`` uses ``re.match``, where ``^…$`` accepts a trailing newline (``"evil"`` and a line feed); ``Boolean``
takes ``1``/``0`` (and ``"yes"``, ``"on"``…) for ``true``/``false``, and even with ``truthy={True}``
lets ``1`` in, since ``1 == True``. These accept exactly what the JSON Schema says.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma


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



class QueryBoolean(ma.fields.Boolean):
    """A query-string flag: exactly ``true`` or ``false`` (no ``1``, ``yes``, ``on``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value not in ("true", "false") or not isinstance(value, str):
            raise self.make_error("invalid", input=value)
        return value == "true"
