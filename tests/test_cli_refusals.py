"""The command line's one refusal boundary: every command that can be refused is audited the same way.

The test walks the whole ``nrm-api`` command tree. Each command either has a row here — a refusing
input, run on the real database — or is named as one no domain rule can refuse (and why). A new
command with neither fails ``test_every_command_has_a_row``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from flask import Flask

from nrm_api.cli import main
from nrm_api.cli_refusals import AuditedCommand, Commands
from nrm_api.crypto.jose import generate_private_jwk, public_half
from nrm_api.extensions import db
from nrm_api.forms.models import FormDraft
from tests.conftest import audit_events, create_agency


@dataclass(frozen=True)
class Refusal:
    """How to refuse a command: its arguments (made on the test's database), what it says, what it logs."""

    args: Callable[[Path], list[str]]
    says: str
    action: str
    reason: str
    outcome: str = "denied"
    stdin: str | None = None


def _jwks(tmp_path: Path) -> str:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(public_half(generate_private_jwk())))
    return str(path)


def _recipient(tmp_path: Path, private: bool = False) -> str:
    from joserfc.jwk import ECKey

    path = tmp_path / ("recipient-private.json" if private else "recipient.json")
    path.write_text(json.dumps(ECKey.generate_key("P-256").as_dict(private=private)))
    return str(path)


def _not_an_export(tmp_path: Path) -> list[str]:
    (tmp_path / "export.jwe").write_text("not.a.jwe.at.all")
    return ["import", "htcds", "--in", str(tmp_path / "export.jwe"), "--key", _recipient(tmp_path, private=True),
            "--agency", create_agency()]


def _draft_whose_kek_is_gone(_tmp_path: Path) -> list[str]:
    """A stored data key wrapped by a KEK the keyring no longer has: ``rewrap`` cannot move it."""
    draft = FormDraft(id=str(uuid.uuid4()), agency_id=create_agency(), created_by="test", public={}, sealed={},
                      kek_version=0, wrapped_dek=b"\0" * 60)
    db.session.add(draft)
    db.session.commit()
    return ["keys", "rewrap", "--retire"]


ROWS: dict[str, Refusal] = {
    "agency add": Refusal(lambda _: ["agency", "add", "Bad Id!", "--kind", "ngo", "--name", "X"],
                          "an agency id", "agency:create", "validation_failed"),
    "client add": Refusal(lambda tmp: ["client", "add", create_agency(), "Bad Id!", "--jwks", _jwks(tmp)],
                          "a client id is", "client:create", "validation_failed"),
    "client add-key": Refusal(lambda tmp: ["client", "add-key", "no-such-client", "--jwks", _jwks(tmp)],
                              "no client", "client:key-add", "not_found"),
    "client revoke-key": Refusal(lambda _: ["client", "revoke-key", "no-such-client", "kid-1"],
                                 "has no key", "client:key-revoke", "not_found"),
    "client disable": Refusal(lambda _: ["client", "disable", "no-such-client"], "no client", "client:disable",
                              "not_found"),
    "user add": Refusal(lambda _: ["user", "add", "Bad Id!", "--agency", create_agency(), "--role", "caseworker",
                                   "--password-stdin"], "a username is", "user:create", "validation_failed",
                        stdin="correct horse battery staple\n"),
    "demo otp": Refusal(lambda _: ["demo", "otp", "no-such-user"], "no user", "user:totp-show", "not_found"),
    "user disable": Refusal(lambda _: ["user", "disable", "no-such-user"], "no user", "user:disable", "not_found"),
    "tokens revoke": Refusal(lambda _: ["tokens", "revoke", "--principal", "nobody"], "a principal is",
                             "tokens:revoke", "validation_failed"),
    "subject-access": Refusal(lambda tmp: ["subject-access", "--form", str(uuid.uuid4()), "--out",
                                           str(tmp / "report.html")], "no such form", "form:subject-access",
                              "not_found"),
    "forms shred": Refusal(lambda _: ["forms", "shred", str(uuid.uuid4()), "--reason", "court_order", "--yes"],
                           "no form", "form:shred", "validation_failed"),
    "keys hosted rotate": Refusal(lambda _: ["keys", "hosted", "rotate", "--agency", "no-such-agency"], "no agency",
                                  "hosted-key:rotate", "not_found"),
    "keys rewrap": Refusal(_draft_whose_kek_is_gone, "does not unwrap", "keys:rewrap", "integrity", "failed"),
    "export htcds": Refusal(lambda tmp: ["export", "htcds", "--agency", "no-such-agency", "--recipient",
                                         _recipient(tmp), "--out", str(tmp / "out.jwe")],
                            "no such agency", "export:htcds", "unknown_agency"),
    "import htcds": Refusal(_not_an_export, "does not open with this key", "import:htcds", "undecryptable"),
    "webhooks set-url": Refusal(lambda _: ["webhooks", "set-url", "no-such-agency", "https://hooks.example/in"],
                                "no agency", "webhook:manage", "not_found"),
    "webhooks retry-dead": Refusal(lambda _: ["webhooks", "retry-dead", "no-such-agency"], "no agency",
                                   "webhook:manage", "not_found"),
}

#: Commands no domain rule refuses: their errors are usage errors (click's own, told before any
#: work) or findings they report, and some run with no database to log in at all.
NOT_REFUSABLE = {
    "db upgrade": "applies migrations: nothing a domain rule refuses",
    "keys init": "no app and no database yet: an existing keyring is a usage error",
    "keys rotate": "adds a KEK version: nothing to refuse",
    "keys hosted list": "lists keys: an agency without one is told how to make one",
    "openapi write": "no database: writes or checks generated files",
    "serve": "starts the server",
    "export ctdc": "reads public parts only and always succeeds (an empty dataset at worst): usage errors only",
    "export hsds": "reads the public directory and always succeeds (an empty package at worst): usage errors only",
    "doctor": "checks this node's setup: a problem is a finding it reports (exit 1), not a refusal",
    "backup": "copies the database, no app: a folder in use or a failed dump is a usage error, nothing written",
    "restore": "no app: a damaged backup or a database in use is refused before anything is written",
    "audit sequence": "the sequencer's own work: nothing to refuse",
    "audit verify": "a log that does not verify is a finding it reports, not a refusal",
    "audit export": "reads the log: usage errors only",
    "webhooks deliver": "sends the outbox: nothing to refuse",
    "demo setup": "the demo's own instance, with no app yet",
    "demo assertion": "prints a client assertion for the demo: no database",
}


def _walk(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            assert isinstance(command, Commands), f"{path}: a group of nrm-api must be a Commands group"
            yield from _walk(command, f"{path} ")
        else:
            yield path, command


COMMANDS = dict(_walk(main))


def test_every_command_has_a_row() -> None:
    assert not set(ROWS) & set(NOT_REFUSABLE)
    assert set(COMMANDS) == set(ROWS) | set(NOT_REFUSABLE), "a new command needs a row in ROWS or NOT_REFUSABLE"


def test_every_command_goes_through_the_boundary() -> None:
    outside = [path for path, command in COMMANDS.items() if not isinstance(command, AuditedCommand)]
    assert not outside, f"commands outside the refusal boundary: {outside}"
    undeclared = [path for path in ROWS if COMMANDS[path].action == "request:refuse"]  # type: ignore[attr-defined]
    assert not undeclared, f"refusable commands must declare their audit action: {undeclared}"


@pytest.mark.parametrize("path", sorted(ROWS))
def test_a_refused_command_exits_1_with_its_message_and_an_audit_event(app: Flask, tmp_path: Path, path: str
                                                                        ) -> None:
    row = ROWS[path]
    args = row.args(tmp_path)
    before = len(audit_events())
    result = app.test_cli_runner().invoke(main, args=args, input=row.stdin)
    assert result.exit_code == 1, result.output
    assert row.says in result.output and result.output.startswith("Error: ")
    assert "Traceback" not in result.output
    written = audit_events()[before:]
    assert [(e.action, e.outcome, e.reason) for e in written] == [(row.action, row.outcome, row.reason)]
    assert written[0].actor.startswith("cli:")


def test_rewrap_with_retire_audits_its_success_too(app: Flask) -> None:
    before = len(audit_events())
    result = app.test_cli_runner().invoke(main, args=["keys", "rewrap", "--retire"])
    assert result.exit_code == 0, result.output
    assert [(e.action, e.outcome) for e in audit_events()[before:]] == [("keys:rewrap", "allowed")]
