"""The command line's one refusal boundary: every command's domain error is rolled back, audited and told.

Every group of ``nrm-api`` is a ``Commands`` group, whose commands are ``AuditedCommand``s: a
``DomainError`` a command lets out discards the command's uncommitted work, is recorded as the
operator's ``denied`` (or ``failed``) event — action from the error, else the command's declared
``action`` — and ends the command with its detail and exit code 1. Commands catch no domain error
themselves, so a new one cannot forget (``tests/test_cli_refusals.py`` walks the tree).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import click
from flask.cli import AppGroup

from .audit import events as audit
from .audit.actions import AuditAction
from .audit.actor import Actor
from .errors import DomainError


class AuditedCommand(click.Command):
    """A command whose refusals are audited: ``action`` names what it does in the log."""

    def __init__(self, *args: Any, action: StrEnum | str = AuditAction.REQUEST_REFUSE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.action = action

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a refusal is rolled back, audited as the operator's and told as a message."""
        try:
            return super().invoke(ctx)
        except DomainError as error:
            # the app context the command ran in is still pushed (Flask ties it to ``ctx``)
            audit.record_refusal(Actor.operator(), error.action or self.action, reason=error.reason,
                                 resource=error.resource, outcome=error.outcome)
            raise click.ClickException(error.detail or error.title) from None


class Commands(AppGroup):
    """A group of commands that run in the app and whose refusals are audited (``AuditedCommand``)."""

    command_class = AuditedCommand
