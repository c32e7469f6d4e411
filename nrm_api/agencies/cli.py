"""``nrm-api agency``: register agencies."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..audit.actions import AuditAction
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


def register_export(export_cli: Commands) -> None:
    """Add ``export hsds``."""

    @export_cli.command("hsds", action=AuditAction.EXPORT_HSDS)
    @click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                  help="A directory (made if missing) for datapackage.json and one CSV per HSDS resource.")
    def export_hsds(out: Path) -> None:
        """The directory as an Open Referral HSDS 3.0 Tabular Data Package (no confidential address)."""
        from . import hsds

        organizations = service.hsds_directory(Actor.operator(), export=True)
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / "datapackage.json").write_text(json.dumps(hsds.datapackage(), ensure_ascii=False, indent=2)
                                                  + "\n", encoding="utf-8")
            for name, data in hsds.csv_files(organizations).items():
                (out / name).write_bytes(data)
            (out / "organizations.json").write_text(
                json.dumps(hsds.page(organizations), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        except OSError as error:
            raise click.ClickException(f"cannot write to {out}: {error.strerror}") from None
        services = sum(len(org["services"]) for org in organizations)
        click.echo(f"wrote {len(organizations)} organization(s) and {services} service(s) as HSDS 3.0 to {out}")
