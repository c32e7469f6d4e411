"""The interface language: ``?lang=`` chooses and is remembered (a cookie), else ``Accept-Language``.

``<html lang>`` says which is in use (``current_lang`` in every template).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, g, request
from flask.wrappers import Response

LANGUAGES = ("ru", "be", "en")
#: What each language is called in itself (the switch shows these, never translated).
NAMES = {"ru": "Русский", "be": "Беларуская", "en": "English"}
#: For a browser that names none of them.
DEFAULT = "ru"
COOKIE = "nrm_lang"
COOKIE_SECONDS = 365 * 24 * 3600


def choose() -> None:
    """Pick this request's language (before each page)."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        g.lang, g.lang_chosen = asked, True
        return
    remembered = request.cookies.get(COOKIE)
    if remembered in LANGUAGES:
        g.lang = remembered
        return
    g.lang = request.accept_languages.best_match(LANGUAGES) or DEFAULT


def selected() -> str:
    """Flask-Babel's locale selector: the language ``choose`` picked."""
    if "lang" not in g:
        choose()
    return str(g.lang)


def remember(response: Response) -> Response:
    """Keep a language chosen with ``?lang=`` for the next visits."""
    if g.get("lang_chosen"):
        response.set_cookie(COOKIE, str(g.lang), max_age=COOKIE_SECONDS, httponly=True, samesite="Lax",
                            secure=bool(current_app.config.get("WEB_COOKIE_SECURE")))
    return response


def url_in(lang: str) -> str:
    """The address of this page in another language (its other query parameters kept)."""
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
    return f"{request.path}?{urlencode([*args, ('lang', lang)])}"
