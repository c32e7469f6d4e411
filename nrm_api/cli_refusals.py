"""The command line's one refusal boundary: a domain error is rolled back, audited and told as a message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

import click

from .audit import events as audit
from .audit.actor import Actor
from .errors import DomainError


@contextmanager
def refused_as_message(action: StrEnum | str, actor: Actor | None = None) -> Iterator[None]:
    """Answer a refusal inside the block: discard the work, audit it as the operator's, exit 1 with its detail."""
    try:
        yield
    except DomainError as error:
        audit.record_refusal(actor or Actor.operator(), error.action or action, reason=error.reason,
                             resource=error.resource, outcome=error.outcome)
        raise click.ClickException(error.detail or error.title) from None
