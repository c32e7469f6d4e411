"""``nrm-api forms`` and the key commands that act on forms' data keys."""

from __future__ import annotations

import click

from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..cli_refusals import Commands
from ..extensions import db, keyring
from . import decisions, keys

forms_cli = Commands("forms", help="Identification forms.")


@forms_cli.command("shred", action=AuditAction.FORM_SHRED)
@click.argument("form_id")
@click.option("--reason", required=True, type=click.Choice(decisions.SHRED_REASONS),
              help="Why (a code: no free text reaches the audit log).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def shred(form_id: str, reason: str, yes: bool) -> None:
    """Crypto-shred FORM_ID: destroy its data key, for good. Its public summary stays."""
    if not yes:
        click.confirm(f"Destroy the data key of form {form_id}? Its sensitive fields can never be read again",
                      abort=True)
    decisions.shred(Actor.operator(), form_id, reason)
    click.echo(f"form {form_id} shredded ({reason})")


def register(keys_cli: Commands) -> None:
    """Add ``keys rotate`` and ``keys rewrap`` to the keys group."""

    @keys_cli.command("rotate", action=AuditAction.KEYS_ROTATE)
    def rotate() -> None:
        """Add a new KEK version: new data keys are wrapped with it from now on."""
        version = keyring().rotate_kek()
        audit.record(Actor.operator(), AuditAction.KEYS_ROTATE, "allowed", resource=f"kek:{version}")
        db.session.commit()
        click.echo(f"KEK version {version} added; run `nrm-api keys rewrap` to move every data key to it")

    @keys_cli.command("rewrap", action=AuditAction.KEYS_REWRAP)
    @click.option("--retire", is_flag=True, help="Afterwards, destroy every older KEK version no stored data key uses.")
    def rewrap(retire: bool) -> None:
        """Move every data key to the newest KEK (field ciphertexts untouched); safe to run again."""
        moved = keys.rewrap(Actor.operator())
        click.echo(f"{moved} data key(s) moved to KEK version {keyring().current_kek_version}")
        if retire:
            for version in keyring().kek_versions[:-1]:
                keys.retire(Actor.operator(), version)
                click.echo(f"KEK version {version} retired")
