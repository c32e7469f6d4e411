"""``/forms/<id>/subject-access/<lang>``: the authority's supervisor downloads a person's subject access report.

The same signed HTML as ``nrm-api subject-access`` writes, built by the same function and audited the
same way (``form:subject-access``); any other agency's people are refused (403), an unknown form is
404. The document is an attachment with its own policy: nothing but its one inline stylesheet, sandboxed.
"""

from __future__ import annotations

from flask import Response, request

from ...errors import NotFoundError
from ...permissions import Permission
from .. import subject_access
from ..blueprint import bp
from ..guard import current_actor, page

#: Who answers subject access requests: the supervisor of an authority (the agency kind is checked below).
ROLES = ("supervisor",)


@bp.route("/forms/<form_id>/subject-access/<lang>", methods=["GET"])
@page(Permission.FORM_READ, roles=ROLES)
def form_subject_access(form_id: str, lang: str) -> Response:
    """Download the form's subject access report in ``lang`` (ru, be, en), signed by the service."""
    if lang not in subject_access.LANGUAGES:
        raise NotFoundError("no such language", resource=f"path:{request.path[:190]}")
    document = subject_access.download(current_actor(), form_id, lang)
    response = Response(document, mimetype="text/html")
    response.headers["Content-Disposition"] = f'attachment; filename="subject-access-{form_id}-{lang}.html"'
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src {subject_access.style_hash(document)}; sandbox")
    return response
