"""The baseline of the forms benchmark: the same stack, unprotected.

Flask, SQLAlchemy, PostgreSQL and gunicorn storing and returning the same JSON with no token, no
signature, no encryption, no audit. Benchmark code, not the product's API.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from flask import Flask, Response, json, request
from sqlalchemy import JSON, Column, MetaData, String, Table, insert, select, text

from nrm_api.database import make_engine

metadata = MetaData()
plain_forms = Table("baseline_forms", metadata, Column("id", String(36), primary_key=True),
                    Column("document", JSON, nullable=False))


def create_app() -> Flask:
    """The baseline app, on ``NRM_DATABASE_URL``."""
    app = Flask(__name__)
    engine = make_engine(os.environ["NRM_DATABASE_URL"], pool_pre_ping=True)
    with engine.begin() as connection:  # gunicorn's workers boot at once: one creates the table, the others wait
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(4242)"))
        metadata.create_all(connection)

    @app.post("/baseline/forms")
    def submit() -> Any:
        form_id = str(uuid.uuid4())
        with engine.begin() as connection:
            connection.execute(insert(plain_forms).values(id=form_id, document=request.get_json()))
        return {"id": form_id}, 201

    @app.get("/baseline/forms/<form_id>")
    def read(form_id: str) -> Any:
        with engine.connect() as connection:
            document = connection.scalar(select(plain_forms.c.document).where(plain_forms.c.id == form_id))
        if document is None:
            return {"error": "not found"}, 404
        return Response(json.dumps({"id": form_id, "document": document}), mimetype="application/json")

    return app
