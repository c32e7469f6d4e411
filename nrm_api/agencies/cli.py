"""``nrm-api agency``: register agencies."""

from __future__ import annotations

import click

from ..audit.actor import Actor
from ..cli_refusals import Commands
from ..permissions import Permission
from . import service
from .models import KINDS, REGIONS

agency_cli = Commands("agency", help="Agencies of the network.")


@agency_cli.command("add", action=Permission.AGENCY_CREATE)
@click.argument("agency_id")
@click.option("--kind", required=True, type=click.Choice(KINDS))
@click.option("--name", "name_en", required=True, help="Name in English.")
@click.option("--name-ru", help="Name in Russian (defaults to --name).")
@click.option("--name-be", help="Name in Belarusian (defaults to --name).")
@click.option("--region", "regions", multiple=True, type=click.Choice(REGIONS), help="Oblast served; repeatable.")
def add(agency_id: str, kind: str, name_en: str, name_ru: str | None, name_be: str | None,
        regions: tuple[str, ...]) -> None:
    """Register agency AGENCY_ID."""
    service.add_agency(Actor.operator(), agency_id, kind=kind, name_en=name_en, name_ru=name_ru,
                       name_be=name_be, regions=regions)
    click.echo(f"agency {agency_id} ({kind}) added")
