"""``/admin/webhook``: the agency's webhook endpoint and its deliveries, dead ones retried (``webhooks.service``)."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.wrappers import Response
from flask_babel import gettext

from ...errors import InvalidError
from ...permissions import Permission
from ...webhooks import service
from ..blueprint import bp
from ..guard import N_, current_actor, notify, page
from ..replies import refused_form, render, see_other

TEMPLATE = "admin/webhook.html"
STATES = ("pending", "delivered", "dead")
#: As many deliveries as the API's log answers by default.
SHOWN = 100


def _context(url: str | None = None) -> dict[str, Any]:
    actor = current_actor()
    state = request.args.get("state") if request.args.get("state") in STATES else None
    endpoint = service.show(actor)
    return {"endpoint": endpoint, "deliveries": service.deliveries(actor, state, SHOWN), "state": state,
            "states": STATES, "url": endpoint["url"] or "" if url is None else url}


@bp.route("/admin/webhook", methods=["GET"])
@page(Permission.WEBHOOK_MANAGE)
def admin_webhook() -> Response:
    """The endpoint, the key webhooks are signed with, and the delivery log (``?state=``)."""
    return render(TEMPLATE, **_context())


@bp.route("/admin/webhook", methods=["POST"])
@page(Permission.WEBHOOK_MANAGE)
def admin_webhook_set() -> Response:
    """Set the one URL the agency receives webhooks at."""
    url = request.form.get("url", "").strip()
    if not url:
        return refused_form(TEMPLATE, {"url": gettext("Enter the address of your endpoint")}, **_context(url))
    actor = current_actor()
    try:
        service.register(actor, str(actor.agency), url[:2000])
    except InvalidError as error:
        message = gettext("Use an https address on the public internet (no private or local addresses)")
        return refused_form(TEMPLATE, {"url": message}, error=error, **_context(url))
    notify(N_("The webhook address is saved."))
    return see_other(url_for("web.admin_webhook"))


@bp.route("/admin/webhook/remove", methods=["POST"])
@page(Permission.WEBHOOK_MANAGE)
def admin_webhook_remove() -> Response:
    """Stop webhooks (the changes feed goes on)."""
    service.remove(current_actor())
    notify(N_("Webhooks are stopped. The changes feed goes on."))
    return see_other(url_for("web.admin_webhook"))


@bp.route("/admin/webhook/deliveries/<delivery_id>/retry", methods=["POST"])
@page(Permission.WEBHOOK_MANAGE)
def admin_webhook_retry(delivery_id: str) -> Response:
    """Send a dead webhook again, with a fresh round of back-off."""
    service.retry(current_actor(), delivery_id)
    notify(N_("The delivery will be sent again."))
    return see_other(url_for("web.admin_webhook"))
