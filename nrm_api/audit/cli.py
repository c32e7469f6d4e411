"""``nrm-api audit``: run the sequencer, verify the log or a bundle, export."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask.cli import ScriptInfo
from sqlalchemy.orm import Session

from ..cli_refusals import Commands
from .actor import Actor
from .verify import Report

audit_cli = Commands("audit", help="The tamper-evident audit log.")


@audit_cli.command("sequence")
@click.option("--checkpoint", is_flag=True, help="Sign a checkpoint now if the log grew, due or not.")
@click.option("--loop", "interval", type=float, default=None, metavar="SECONDS",
              help="Keep running, every SECONDS, until stopped (SIGTERM or Ctrl-C): the sequencer's own process.")
def sequence(checkpoint: bool, interval: float | None) -> None:
    """Give queued events their positions and sign a checkpoint when due, once, in the foreground."""
    from flask import current_app

    from . import log, sequencer
    from .background import Background, engine

    if interval is not None:
        if interval <= 0:
            raise click.ClickException("--loop needs a positive number of seconds")
        Background(current_app._get_current_object(), interval).run_forever()  # type: ignore[attr-defined]
        return
    session = Session(engine())
    try:
        count = sequencer.run(session, log.signer(), force_checkpoint=checkpoint)
        latest = sequencer.latest_checkpoint(session)
    finally:
        session.close()
    click.echo(f"sequenced {count} event(s); newest checkpoint at size {latest.tree_size if latest else 0}")


def _print(report: Report) -> None:
    click.echo(json.dumps(report.as_dict(), indent=2))
    if not report.valid:
        raise click.ClickException(
            f"the log does not verify: first invalid position {report.first_invalid_seq} ({report.problem})")


@audit_cli.command("verify", with_appcontext=False)
@click.option("--bundle", "bundle_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Verify an exported bundle offline: no database, no configuration.")
@click.option("--trusted-jwks", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Pin the service's public keys (a JWK Set) instead of trusting the bundle's own.")
@click.pass_context
def verify(ctx: click.Context, bundle_path: Path | None, trusted_jwks: Path | None) -> None:
    """Verify the live log, or a bundle; exit non-zero naming the first bad position."""
    if bundle_path is not None:
        from . import bundle

        keys = json.loads(trusted_jwks.read_text())["keys"] if trusted_jwks else None
        try:
            with bundle_path.open(encoding="utf-8") as source:
                report = bundle.verify_file(source, keys)
        except bundle.BundleError as error:
            raise click.ClickException(str(error)) from None
        if keys is None:
            click.echo("note: verified with the keys the bundle carries; pin them with --trusted-jwks", err=True)
        _print(report)
        return
    app = ctx.ensure_object(ScriptInfo).load_app()
    with app.app_context():
        from ..extensions import db
        from . import log

        session = Session(db.engine)
        try:
            report = log.verify_live(session)
        finally:
            session.close()
    _print(report)


@audit_cli.command("export")
@click.option("--bundle", "bundle_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a bundle (exact bytes, checkpoints, public keys) to this file.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), help="Stream events to standard output.")
@click.option("--since", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]))
@click.option("--until", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]))
def export(bundle_path: Path | None, fmt: str | None, since: datetime | None, until: datetime | None) -> None:
    """Export a bundle for offline verification, or the events as JSON Lines or CSV."""
    from ..extensions import db
    from . import auditor, log

    if (bundle_path is None) == (fmt is None):
        raise click.ClickException("give either --bundle FILE or --format jsonl|csv")
    if bundle_path is not None:
        session = db.reader()  # reads only: never holds the write lock while the file is written
        try:
            with bundle_path.open("w", encoding="utf-8") as out:
                count = log.export_bundle(session, out)
        finally:
            session.close()
        click.echo(f"wrote {count} event(s) to {bundle_path}", err=True)
        return
    filters: dict[str, Any] = {"since": _aware(since), "until": _aware(until)}
    for chunk in auditor.export_events(Actor.operator(), filters, str(fmt)):
        sys.stdout.write(chunk)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
