"""Refusals of pages, as pages: what the boundary (``nrm_api.boundary``) answers once it has audited.

A page the role may never open is 403, a record the caller may not see 404, as the API answers;
the page says so in the reader's language and never repeats a service's English detail.
"""

from __future__ import annotations

from flask import g
from flask.wrappers import Response
from flask_babel import gettext

from . import headers
from .replies import render


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (gettext("The request was refused"),
              gettext("The form was out of date or incomplete. Go back, reload the page and try again.")),
        403: (gettext("You cannot open this page"), gettext("Your role does not allow this page.")),
        404: (gettext("Page not found"), gettext("There is nothing here, or nothing you may see.")),
        405: (gettext("Not allowed"), gettext("This page cannot be used that way.")),
        409: (gettext("This cannot be done now"), gettext("The record has changed or does not allow this now.")),
        412: (gettext("The record has changed"),
              gettext("Someone changed it since you opened the page. Reload it and try again.")),
        413: (gettext("Too much was sent"), gettext("What you sent is larger than the service accepts.")),
        422: (gettext("This cannot be accepted"), gettext("Check what you entered and try again.")),
        429: (gettext("Too many attempts"), gettext("Wait a few minutes, then try again.")),
        500: (gettext("Something went wrong"), gettext("The service could not do this. Nothing was changed.")),
    }


def answer(status: int, _error: Exception) -> Response:
    """The page for a refusal with ``status`` (its headers those of every page)."""
    messages = _messages()
    title, text = messages.get(status) or messages[500 if status >= 500 else 400]
    if status >= 500:
        g.web_session = None  # the request's transaction failed: draw the page without reading anything
    return headers.apply(render("error.html", status=status, title=title, text=text, status_code=status))
