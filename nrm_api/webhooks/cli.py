"""``nrm-api webhooks``: run the deliverer; register an agency's endpoint."""

from __future__ import annotations

import click
from flask import current_app

from ..audit.actor import Actor
from ..cli_refusals import Commands
from ..permissions import Permission

webhooks_cli = Commands("webhooks", help="Webhooks from the outbox.")


@webhooks_cli.command("deliver")
@click.option("--loop", "interval", type=float, default=None, metavar="SECONDS",
              help="Keep running until stopped (SIGTERM or Ctrl-C), woken by each commit on PostgreSQL and every "
                   "SECONDS in any case: the deliverer's own process.")
def deliver(interval: float | None) -> None:
    """Send what is due from the outbox, once (or, with --loop, until stopped)."""
    from ..worker import Worker
    from .deliver import run
    from .outbox import CHANNEL

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    worker = Worker(app, interval or 0, run, "nrm-webhooks", CHANNEL)
    if interval is not None:
        if interval <= 0:
            raise click.ClickException("--loop needs a positive number of seconds")
        worker.run_forever()
        return
    click.echo(f"delivered {worker.run_once()} webhook(s)")


@webhooks_cli.command("set-url", action=Permission.WEBHOOK_MANAGE)
@click.argument("agency_id")
@click.argument("url")
def set_url(agency_id: str, url: str) -> None:
    """Register AGENCY_ID's webhook URL (operators; agencies use PUT /api/v1/webhooks/endpoint)."""
    from ..agencies.service import require_agency
    from .service import register

    require_agency(agency_id)
    register(Actor.operator(), agency_id, url)
    click.echo(f"webhooks for {agency_id} go to {url}")


@webhooks_cli.command("retry-dead", action=Permission.WEBHOOK_MANAGE)
@click.argument("agency_id")
def retry_dead(agency_id: str) -> None:
    """Send every dead webhook of AGENCY_ID again, e.g. after its endpoint was down for days."""
    from ..agencies.service import require_agency
    from .service import retry_dead as revive_all

    require_agency(agency_id)
    click.echo(f"{revive_all(Actor.operator(), agency_id)} dead webhook(s) of {agency_id} are due again")
