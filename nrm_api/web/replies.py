"""How pages answer: rendered templates, 303 after a POST, a refused form as 422 with its errors.

A form's refusal is audited like any other (``refused``): through the door's one boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import redirect, render_template
from flask.wrappers import Response

from .. import boundary
from ..errors import DomainError


def render(template: str, status: int = 200, **context: Any) -> Response:
    """A page from ``template`` (autoescaped: every template is ``.html``)."""
    return Response(render_template(template, **context), status=status, mimetype="text/html")


def see_other(url: str) -> Response:
    """303 See Other: after a POST the browser GETs the page that shows its result."""
    response: Response = redirect(url, code=303)  # type: ignore[assignment]
    return response


def refused_form(template: str, errors: Mapping[str, str], *, error: DomainError | None = None,
                 **context: Any) -> Response:
    """The form again with status 422: ``errors`` maps each field's name to its message (error summary).

    With ``error`` (a service's refusal the page shows on its form), the refusal is audited first.
    """
    if error is not None:
        boundary.audit_refusal(error.reason, resource=error.resource, action=error.action, outcome=error.outcome)
    return render(template, status=422, errors=dict(errors), **context)
