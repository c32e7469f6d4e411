"""ETags and ``If-Match`` (RFC 9110 §8.8.3, §13.1.1): the one check before any change of a versioned record."""

from __future__ import annotations

from .errors import PreconditionRequired, Stale


class IfMatchMissing(PreconditionRequired):
    """No ``If-Match``: a change must name the representation it was made from."""

    def __init__(self, resource: str | None = None) -> None:
        super().__init__("send If-Match with the ETag", reason="precondition_required", resource=resource)


class IfMatchStale(Stale):
    """``If-Match`` names no current representation."""

    def __init__(self, resource: str | None = None) -> None:
        super().__init__("it has changed: read it again", reason="stale_etag", resource=resource)


def etag(revision: int) -> str:
    """The strong ETag of a record at ``revision``."""
    return f'"{revision}"'


def revision_of(tag: str) -> int:
    """The revision an ETag of ``etag`` names."""
    return int(tag.strip('"'))


def matches(current: str, if_match: str) -> bool:
    """Whether ``If-Match`` names the current ETag: ``*``, or one of its list by strong comparison.

    A bare revision (``3`` for ``"3"``) is accepted as before; a weak tag (``W/"3"``) never matches.
    """
    if if_match.strip() == "*":  # any current representation: the record exists, or we would not be here
        return True
    tags = [tag.strip() for tag in if_match.split(",")]
    return current in tags or current.strip('"') in tags


def check_if_match(current: str, if_match: str | None, resource: str | None = None) -> None:
    """Refuse a change of ``resource`` whose ``If-Match`` is missing (428) or names no current representation (412)."""
    if not if_match or not if_match.strip():
        raise IfMatchMissing(resource)
    if not matches(current, if_match):
        raise IfMatchStale(resource)
