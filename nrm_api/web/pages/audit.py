"""The auditor's pages (``audit.auditor``): events, a form's access log, downloads, verification.

Events are searched with the API's filters; the export and the offline bundle are streamed
downloads; verification runs on a POST and its result is shown once.

Nothing here shows case content: the log holds identifiers, actions and field names, never a value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import request, session, url_for
from flask.wrappers import Response
from flask_babel import gettext

from ...audit import auditor, queries
from ...audit.models import OUTCOMES
from ...permissions import Permission
from ..blueprint import bp
from ..guard import current_actor, page
from ..replies import render, see_other

TEXT_FILTERS = ("actor", "agency", "action", "resource")
#: Rows a page shows unless ``limit`` says otherwise (the API's default; its maximum bounds it).
PAGE_SIZE = 100
EXPORTS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}
#: The session key of the last verification's result, shown once by ``GET /audit/verify``.
VERIFIED = "audit_verified"


class _Refused(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("refused filters")
        self.errors = errors


def _moment(raw: str) -> datetime:
    """A moment as typed: RFC 3339 with an offset, or a ``datetime-local`` value taken as UTC."""
    moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _filters(args: Mapping[str, str]) -> dict[str, Any]:
    """The API's filters (``GET /api/v1/audit/events``) from the query; refused ones named by field."""
    found: dict[str, Any] = {name: args[name].strip() for name in TEXT_FILTERS if args.get(name, "").strip()}
    errors: dict[str, str] = {}
    outcome = args.get("outcome", "")
    if outcome:
        if outcome in OUTCOMES:
            found["outcome"] = outcome
        else:
            errors["outcome"] = gettext("Choose an outcome from the list")
    for name in ("since", "until"):
        if args.get(name, "").strip():
            try:
                found[name] = _moment(args[name])
            except ValueError:
                errors[name] = gettext("Enter a date and time, such as 2026-05-01T09:30")
    if errors:
        raise _Refused(errors)
    return found


def _limit(args: Mapping[str, str]) -> int:
    raw = args.get("limit", "")
    if raw.isdigit() and 1 <= int(raw) <= queries.MAX_LIMIT:
        return int(raw)
    if raw:
        raise _Refused({"limit": gettext("Show between 1 and %(most)d events a page", most=queries.MAX_LIMIT)})
    return PAGE_SIZE


def _query_string(args: Mapping[str, str], **changes: str | None) -> str:
    kept = {name: args[name] for name in (*TEXT_FILTERS, "outcome", "since", "until", "limit") if args.get(name)}
    kept.update({name: value for name, value in changes.items() if value is not None})
    return urlencode(kept)


def _typed(args: Mapping[str, str]) -> dict[str, str]:
    return {name: args.get(name, "") for name in (*TEXT_FILTERS, "outcome", "since", "until", "limit")}


@bp.route("/audit", methods=["GET"])
@page(Permission.AUDIT_READ)
def audit_events() -> Response:
    """Events matching the filters in the query, a page at a time, with export links for the same filters."""
    args = request.args
    try:
        filters, limit = _filters(args), _limit(args)
    except _Refused as refused:
        return render("audit/events.html", status=422, errors=refused.errors, typed=_typed(args), outcomes=OUTCOMES,
                      result=None, next_url=None, exports={})
    result = auditor.list_events(current_actor(), filters, args.get("cursor") or None, limit)
    next_url = f"{url_for('web.audit_events')}?{_query_string(args, cursor=result.next_cursor)}" \
        if result.next_cursor else None
    exports = {fmt: f"{url_for('web.audit_export')}?{_query_string(args, format=fmt, limit=None)}"
               for fmt in EXPORTS}
    return render("audit/events.html", errors={}, typed=_typed(args), outcomes=OUTCOMES, result=result,
                  next_url=next_url, exports=exports)


@bp.route("/audit/forms/<form_id>", methods=["GET"])
@page(Permission.AUDIT_READ)
def audit_form_log(form_id: str) -> Response:
    """Every audited access to one form: who, when, which fields; never a value."""
    try:
        limit = _limit(request.args)
    except _Refused:
        limit = PAGE_SIZE
    result = auditor.access_log(current_actor(), f"form:{form_id}", request.args.get("cursor") or None, limit)
    next_url = f"{url_for('web.audit_form_log', form_id=form_id)}?{urlencode({'cursor': result.next_cursor})}" \
        if result.next_cursor else None
    return render("audit/form_log.html", form_id=form_id, result=result, next_url=next_url)


def _download(chunks: Iterator[str], media_type: str, filename: str) -> Response:
    response = Response(chunks, mimetype=media_type.split(";")[0])
    response.headers["Content-Type"] = media_type
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/audit/export", methods=["GET"])
@page(Permission.AUDIT_EXPORT)
def audit_export() -> Response:
    """The matching events as CSV or JSON Lines (``format=``), streamed as the API's export is."""
    fmt = request.args.get("format", "")
    try:
        filters = _filters(request.args)
        if fmt not in EXPORTS:
            raise _Refused({"format": gettext("Choose CSV or JSON Lines")})
    except _Refused as refused:
        return render("audit/events.html", status=422, errors=refused.errors, typed=_typed(request.args),
                      outcomes=OUTCOMES, result=None, next_url=None, exports={})
    return _download(auditor.export_events(current_actor(), filters, fmt), EXPORTS[fmt], f"audit-events.{fmt}")


@bp.route("/audit/bundle", methods=["GET"])
@page(Permission.AUDIT_EXPORT)
def audit_bundle() -> Response:
    """The whole log as an offline bundle for ``nrm-api audit verify --bundle``, streamed."""
    return _download(auditor.export_bundle(current_actor()), "application/jsonl; charset=utf-8", "audit.bundle")


@bp.route("/audit/verify", methods=["GET"])
@page(Permission.AUDIT_VERIFY)
def audit_verify() -> Response:
    """A button to verify the log, and the result of the verification just run."""
    return render("audit/verify.html", report=session.pop(VERIFIED, None))


@bp.route("/audit/verify", methods=["POST"])
@page(Permission.AUDIT_VERIFY)
def audit_verify_run() -> Response:
    """Verify the whole stored log: every position, column, root and checkpoint."""
    report = auditor.verify(current_actor()).as_dict()
    summary = {key: report.get(key) for key in (
        "valid", "events_checked", "checkpoints_checked", "first_invalid_seq", "problem", "pending", "unsequenced")}
    summary["size"] = (report.get("head") or {}).get("size", 0)
    summary["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    session[VERIFIED] = summary
    return see_other(url_for("web.audit_verify"))
