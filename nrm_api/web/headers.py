"""The headers of every page: a strict Content-Security-Policy, the API's security headers, no caching.

Nothing inline: scripts and styles come from ``/static`` of this host only, so an injected
``<script>`` or ``style=`` does nothing even if escaping ever failed. Every page but the static
files is ``Cache-Control: no-store`` (web.md asks it of the pages with case data; the others
carry a signed-in person's name and agency, and a back button after sign-out must not show them).
A view that sets a stricter policy of its own (the subject access report's download) keeps it.
"""

from __future__ import annotations

from flask import request
from flask.wrappers import Response

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def apply(response: Response) -> Response:
    """Set the page headers (the API's ``http._finish`` adds the request id and keeps these).

    A view that set its own, stricter policy (a downloaded document's) keeps it.
    """
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.endpoint == "web.static":
        response.headers["Cache-Control"] = "public, max-age=3600"
    else:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        response.vary.add("Cookie")
    return response
