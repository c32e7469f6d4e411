"""``/directory``: the network's agencies, their services, regions and vacancies; ``?service=&region=`` filter."""

from __future__ import annotations

from flask import request
from flask.wrappers import Response

from ...agencies import service as agencies
from ...agencies.models import REGIONS
from ...permissions import Permission
from ...referrals.rules import SERVICES
from ..blueprint import bp
from ..guard import current_actor, page
from ..replies import render
from .referrals import agency_name, helpers


@bp.route("/directory")
@page(Permission.AGENCY_READ)
def directory() -> Response:
    """Every agency of the network (cut by service and region when asked), with its services and places."""
    service = request.args.get("service") if request.args.get("service") in SERVICES else None
    region = request.args.get("region") if request.args.get("region") in REGIONS else None
    entries = agencies.list_agencies(current_actor(), service=service, region=region)
    rows = [{**entry, "name_shown": agency_name(entry["id"])} for entry in entries]
    shown = helpers()
    label = shown["code_label"]
    return render("directory.html", rows=rows, service=service, region=region,
                  service_options=[(code, label("service", code)) for code in SERVICES],
                  region_options=[(code, label("oblast", code)) for code in REGIONS],
                  regions_shown=lambda codes: ", ".join(label("oblast", code) for code in codes), **shown)
