"""``nrm-api forms`` and the key commands that act on forms' data keys."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..cli_refusals import Commands
from ..crypto.canonical import loads_strict
from ..extensions import db, keyring
from . import ctdc, decisions, exports, keys

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


def _read_json_file(path: Path, what: str) -> Any:
    try:
        return loads_strict(path.read_bytes())
    except (OSError, ValueError):
        raise click.ClickException(f"{what} {path} is not a readable JSON file") from None


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 (a file already there is made 0600 before it is overwritten)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as error:
        raise click.ClickException(f"cannot write {path}: {error.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)


def register_exports(export_cli: Commands, import_cli: Commands) -> None:
    """Add ``export htcds``, ``export ctdc`` and ``import htcds``."""

    @export_cli.command("htcds", action=AuditAction.EXPORT_HTCDS)
    @click.option("--agency", "agency_id", required=True, help="Export what this agency may see, as it would.")
    @click.option("--recipient", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
                  help="The recipient's public JWK (EC P-256 or OKP X25519).")
    @click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="Where to write the JWE (mode 0600).")
    @click.option("--format", "fmt", type=click.Choice(exports.FORMATS), default="json", show_default=True)
    def export_htcds(agency_id: str, recipient: Path, out: Path, fmt: str) -> None:
        """The network's cases AGENCY may see, in HTCDS columns, as one JWE to the recipient (ECDH-ES, A256GCM)."""
        key = _read_json_file(recipient, "the recipient key")
        actor = replace(Actor.operator(), agency=agency_id)
        done = exports.export(actor, key, fmt)
        write_private(out, done.jwe.encode("ascii"))
        click.echo(f"exported {done.rows} case(s) as {fmt} to {out}, encrypted to the recipient's key")

    @export_cli.command("ctdc", action=AuditAction.EXPORT_CTDC)
    @click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write it.")
    @click.option("--format", "fmt", type=click.Choice(exports.FORMATS), default="json", show_default=True)
    def export_ctdc(out: Path, fmt: str) -> None:
        """The CTDC-style anonymised dataset: public columns, generalised, k-anonymous (k = 11) by suppression."""
        dataset = exports.ctdc(Actor.operator())
        write_private(out, ctdc.to_csv(dataset) if fmt == "csv" else ctdc.to_json(dataset))
        report = dataset.report()
        click.echo(f"wrote {report['rows']} row(s) to {out}: k = {report['k']}, k reached {report['k_reached']}, "
                   f"{report['cells_suppressed']} quasi-identifier cell(s) suppressed, "
                   f"{report['rows_dropped']} row(s) dropped", err=True)

    @import_cli.command("htcds", action=AuditAction.IMPORT_HTCDS)
    @click.option("--in", "source", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
                  help="A file `nrm-api export htcds` wrote.")
    @click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
                  help="The recipient's private JWK.")
    @click.option("--agency", "agency_id", required=True, help="The agency the forms are created for (their author).")
    def import_htcds(source: Path, key_file: Path, agency_id: str) -> None:
        """Create the forms of an HTCDS export as AGENCY, signed by its hosted key: every row, or none."""
        key = _read_json_file(key_file, "the private key")
        try:
            compact = source.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            raise click.ClickException(f"{source} is not a readable export (a compact JWE)") from None
        actor = replace(Actor.operator(), agency=agency_id)
        created = exports.import_forms(actor, compact, key)
        click.echo(f"imported {len(created)} form(s) as {agency_id}")
