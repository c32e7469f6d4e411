"""``nrm-api``: the operator's command line (a Flask CLI group).

Every command prints a clear message and exits non-zero on bad input, writing nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup

from .cli_app import command_line_app
from .cli_refusals import AuditedCommand, Commands
from .crypto.errors import KeyringError


class _Group(FlaskGroup):
    """Flask's group, listing only nrm-api's own commands: ``--help`` works with no configuration."""

    command_class = AuditedCommand

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Our commands, without loading the app to look for more."""
        return sorted(click.Group.list_commands(self, ctx))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """One of our commands; the app is created only when the command needs it."""
        return click.Group.get_command(self, ctx, name)


@click.group(cls=_Group, create_app=command_line_app, add_default_commands=False, add_version_option=False,
             load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """Operate nrm-api: database, directory, principals, keys, OpenAPI and the server."""


db_cli = Commands("db", help="The database schema.")
keys_cli = Commands("keys", help="The service's keyring.")
openapi_cli = Commands("openapi", help="The generated OpenAPI document and JSON Schemas.")
export_cli = Commands("export", help="Exports: HTCDS (encrypted to a recipient), the CTDC-style anonymised dataset, "
                                       "the directory as HSDS.")
import_cli = Commands("import", help="Imports: an HTCDS export, into this instance.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to NRM_DATABASE_URL."""
    from .migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"])
    click.echo("database is at the newest revision")


@keys_cli.command("init", with_appcontext=False)
def keys_init() -> None:
    """Create a new local keyring where NRM_KEYRING points; refuse to overwrite one."""
    from .config import from_environ
    from .crypto.keyring import Keyring

    location = from_environ()["KEYRING"]
    try:
        ring = Keyring.create(location)
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"keyring created at {ring.path} (mode 0600): keep it out of backups of the database")


@openapi_cli.command("write", with_appcontext=False)
@click.option("--check", is_flag=True, help="Fail if the files differ from the code, writing nothing.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
def openapi_write(check: bool, root: Path) -> None:
    """Regenerate openapi.yaml and schemas/ (or check them with --check)."""
    from . import create_app, openapi

    if check:
        stale = openapi.drift(root, create_app)
        if stale:
            raise click.ClickException(
                f"generated files drift from the code: {', '.join(stale)}; run `nrm-api openapi write`"
            )
        click.echo("openapi.yaml and schemas/ match the code")
        return
    for path in openapi.write(root, create_app):
        click.echo(f"wrote {path}")


@main.command("backup", with_appcontext=False)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A new or empty folder to write the backup into.")
def backup_command(out: Path) -> None:
    """Back up the database (only: never the keyring) with a manifest of checksums."""
    from .backup import BackupError, backup
    from .config import from_environ

    try:
        manifest = backup(from_environ()["DATABASE_URL"], out)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    data = manifest.data
    click.echo(f"backed up the database to {out}: {len(manifest.files)} file(s), migration head "
               f"{data['migration_head']}, audit log size {data['audit_tree_size']}; the keyring is not in it: "
               "keep a copy of it apart (docs/backups.md)")


@main.command("restore", with_appcontext=False)
@click.option("--from", "folder", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A folder `nrm-api backup` wrote.")
@click.option("--replace", is_flag=True, help="Restore even into a database that holds tables, replacing them.")
def restore_command(folder: Path, replace: bool) -> None:
    """Restore a backup into the configured, empty database (checksums first), then migrate it to head."""
    from .backup import BackupError, restore
    from .config import from_environ

    try:
        manifest = restore(from_environ()["DATABASE_URL"], folder, replace=replace)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"restored the backup of {manifest.data['created_at']} (audit log size "
               f"{manifest.data['audit_tree_size']}) and migrated to head; forms open only with the keyring "
               "they were written under: run `nrm-api audit verify` next")


@main.command("serve", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(min=1), help="Threads per worker.")
@click.option("--background/--no-background", default=True, show_default=True, envvar="NRM_SERVE_BACKGROUND",
              help="Run the audit sequencer and the webhook deliverer beside the workers (--no-background: "
                   "they run as services of their own).")
def serve(host: str, port: int, workers: int, threads: int, background: bool) -> None:
    """Serve the API with gunicorn (threaded workers), behind a buffering reverse proxy in production."""
    from .serve import run

    app = command_line_app()  # fail here, with a clear message, if the configuration is incomplete
    run(host, port, workers, threads, app.config["LOG_FORMAT"], background=background)


@main.command("subject-access", action="form:subject-access")
@click.option("--form", "form_id", help="The form the person is the subject of.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the report (mode 0600).")
@click.option("--lang", type=click.Choice(["ru", "be", "en"]), default="ru", show_default=True,
              help="The person's language.")
@click.option("--verify", "verify_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Check a report's signature instead (exit 1 when it does not verify).")
@click.option("--jwks", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="With --verify: the service's published keys (/.well-known/jwks.json); default this keyring's.")
def subject_access(form_id: str | None, out: Path | None, lang: str, verify_file: Path | None,
                   jwks: Path | None) -> None:
    """A person's subject access report: what is held, to whom it was referred, every access; signed HTML."""
    import json

    from .audit.actor import Actor
    from .extensions import db, keyring
    from .forms.cli import write_private
    from .referrals import subject_access as sar
    from .web.subject_access import signed

    if verify_file is not None:
        try:
            keys = json.loads(jwks.read_text(encoding="utf-8"))["keys"] if jwks else keyring().jwks()["keys"]
        except (OSError, ValueError, KeyError, TypeError):
            raise click.ClickException(f"{jwks} is not a JWK Set") from None
        if not sar.verify(verify_file.read_bytes(), keys):
            raise click.ClickException(f"{verify_file}: the signature does not verify")
        click.echo(f"{verify_file}: signed by the service, unchanged")
        return
    if not form_id or out is None:
        raise click.UsageError("give --form and --out (or --verify FILE)")
    report = sar.gather(Actor.operator(), form_id)
    write_private(out, signed(report, lang))
    db.session.commit()
    click.echo(f"wrote the subject access report of form {form_id} ({lang}, {len(report.accesses)} access(es)) "
               f"to {out}")


@main.command("doctor", with_appcontext=False)
def doctor() -> None:
    """Check this node's setup: settings, keyring, database and migrations, clock, Redis (exit 1 on a problem)."""
    from .doctor import run

    status = run(echo=click.echo)
    if status:
        sys.exit(status)


def _register() -> None:
    from .accounts.cli import client_cli, hosted_cli, tokens_cli, user_cli
    from .agencies.cli import agency_cli
    from .agencies.cli import register_export as register_hsds_export
    from .audit.cli import audit_cli
    from .demo import demo_cli
    from .forms.cli import forms_cli, register_exports
    from .forms.cli import register as register_key_commands
    from .webhooks.cli import webhooks_cli

    register_key_commands(keys_cli)
    keys_cli.add_command(hosted_cli)
    register_exports(export_cli, import_cli)
    register_hsds_export(export_cli)
    for group in (db_cli, keys_cli, openapi_cli, export_cli, import_cli, agency_cli, client_cli, user_cli, forms_cli,
                  audit_cli, webhooks_cli, demo_cli):
        main.add_command(group)
    main.add_command(tokens_cli)


_register()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
