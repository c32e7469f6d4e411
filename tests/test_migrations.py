"""The migrations build exactly what the models declare."""

from __future__ import annotations

from flask import Flask

from nrm_api.extensions import db
from nrm_api.migrate import differences


def test_models_and_migrations_agree(app: Flask) -> None:
    assert differences(db.session.connection()) == []
