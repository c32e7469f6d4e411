"""RFC 8785 canonical JSON (JCS), the one byte form that is hashed and signed."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

import rfc8785

from .errors import CryptoError


class NotCanonicalizable(CryptoError):
    """The value has no RFC 8785 form: an integer beyond ±2**53, a non-finite number, a lone surrogate."""


class DuplicateMemberError(ValueError):
    """A JSON object names the same member twice: it has no single canonical form."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateMemberError("duplicate member name in a JSON object")
        result[key] = value
    return result


class TooDeepError(ValueError):
    """JSON nested deeper than any document of this service (a stack-exhaustion attempt)."""


#: Deeper than every document the service defines, far below the interpreter's recursion limit.
MAX_DEPTH = 64


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to inf: no JSON number is infinite
        raise ValueError("a number beyond the range of a double is not accepted")
    return value


def loads_strict(data: bytes) -> Any:
    """Parse JSON refusing duplicates, NaN/Infinity (also as 1e400), nesting past ``MAX_DEPTH``, non-UTF-8."""
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constants,
                           parse_float=_finite)
    except RecursionError:
        raise TooDeepError(f"JSON nested more than {MAX_DEPTH} levels deep") from None
    check_depth(value)
    return value


def check_depth(value: Any) -> None:
    """Refuse a parsed JSON value nested more than ``MAX_DEPTH`` levels (walked without recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise TooDeepError(f"JSON nested more than {MAX_DEPTH} levels deep")
        pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))


SAFE_INTEGER = 2**53 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def canonical(value: Any) -> bytes:
    """The RFC 8785 canonical bytes of a JSON value.

    Values with no floats, only ASCII member names and safe integers (every document this service
    defines) take a fast path: for them RFC 8785 *is* sorted, compact ``json.dumps`` — a property
    test holds the two to the same bytes. Anything else goes through ``rfc8785``.
    """
    if _plain(value):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as error:
        raise NotCanonicalizable(type(error).__name__) from None


def is_plain(value: Any) -> bool:
    """Whether ``value`` takes the fast path: no floats, ASCII member names, safe integers, no lone surrogates."""
    return _plain(value)


def _plain(value: Any) -> bool:
    if isinstance(value, str):
        return not _SURROGATE.search(value)
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -SAFE_INTEGER <= value <= SAFE_INTEGER
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and key.isascii() and _plain(item) for key, item in value.items())
    return False


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256."""
    return hashlib.sha256(data).hexdigest()
