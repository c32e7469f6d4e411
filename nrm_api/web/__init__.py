"""The web form: server-rendered pages for staff and auditors over the same service functions as the API.

``init_app`` wires it: the Blueprint at ``/`` (``blueprint.bp``, its pages in ``web/pages/``),
Flask-WTF's CSRF check on every POST of it, Flask-Babel in ru, be and en, the session cookie's
settings, and the boundary's answers as pages. See README "Web form" and "Web pages: for authors".
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import timedelta

from flask import Flask

from .. import boundary
from . import frame, i18n, refusals
from .blueprint import bp
from .extensions import babel, csrf

#: Package data: the catalogs live beside the templates.
TRANSLATIONS = "web/translations"


def init_app(app: Flask) -> None:
    """Register the pages at ``/`` and everything they rely on."""
    app.config.update(
        SESSION_COOKIE_NAME="nrm_session", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(app.config.get("WEB_COOKIE_SECURE")),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        # the API's POSTs carry tokens and signatures, not cookies: only the pages check (``guard.check_csrf``)
        WTF_CSRF_CHECK_DEFAULT=False,
        # a token lives as long as its session (the session's own limits end it), not an hour
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_TRANSLATION_DIRECTORIES=TRANSLATIONS, BABEL_DEFAULT_LOCALE=i18n.DEFAULT,
    )
    app.jinja_env.add_extension("jinja2.ext.do")
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.selected)
    for module in pkgutil.iter_modules(importlib.import_module(f"{__name__}.pages").__path__):
        importlib.import_module(f"{__name__}.pages.{module.name}")
    app.register_blueprint(bp)
    assert frame.NAVIGATION  # noqa: S101 - imported for its hooks on ``bp``
    boundary.answer_pages_with(app, refusals.answer, bp.name)
