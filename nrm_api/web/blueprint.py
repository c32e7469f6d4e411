"""The Blueprint every page is registered on: at ``/``, its templates and static files beside it.

Page modules live in ``web/pages/`` (each is imported by ``web.init_app``) and route on ``bp``.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static")
