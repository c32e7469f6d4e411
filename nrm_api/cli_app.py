"""The app the ``nrm-api`` command line makes from its environment, when a command needs one."""

from __future__ import annotations

import click
from flask import Flask

from .config import ConfigError
from .crypto.errors import KeyringError


def command_line_app() -> Flask:
    """The service's app from the environment's settings; a clear message (exit 1) when they are incomplete."""
    from . import create_app
    from .worker import ONE_SHOT

    try:
        return create_app(ONE_SHOT)
    except (ConfigError, KeyringError) as error:
        raise click.ClickException(str(error)) from None
