"""The statistics over HTTP."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from ..accounts.auth import current_actor, requires
from ..permissions import Permission
from . import service
from .schemas import StatisticsReportSchema

blp = Blueprint("statistics", __name__, url_prefix="/api/v1/statistics",
                description="Counts over the network's forms and referrals, small cells withheld")


@blp.route("", methods=["GET"])
@requires(Permission.STATISTICS_READ)
@blp.response(200, StatisticsReportSchema)
def get_statistics() -> Any:
    """Counts of forms, decisions, referrals and assistance: the network's, or your agency's.

    ---
    Every count below k (NRM_STATISTICS_K, 11 by default) is withheld, and more beside it, so that
    no withheld count can be worked out from the rest of the answer.
    """
    return service.statistics(current_actor())
