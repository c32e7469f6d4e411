"""The answer seam: a view's body is dumped by its output schema, and what is signed is what was dumped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask, Response
from flask.testing import FlaskClient
from flask_smorest import Api, Blueprint

from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jws import verify_detached_by_service
from nrm_api.crypto.keyring import Keyring
from nrm_api.openapi import OPENAPI_SETTINGS
from nrm_api.replies import answer, signed
from nrm_api.writes import Written
from tests.forms.helpers import adult
from tests.referrals.helpers import network


class ThingSchema(ma.Schema):
    """What a reader of a thing may see."""

    id = ma.fields.String(required=True)
    count = ma.fields.Integer()


def _seam_app(keyring_path: Path) -> Flask:
    app = Flask(__name__)
    app.config.update(OPENAPI_SETTINGS, TESTING=True)
    app.extensions["nrm_keyring"] = Keyring.load(keyring_path)
    blp = Blueprint("things", __name__, url_prefix="/things")

    @blp.route("/signed")
    @signed
    @blp.response(200, ThingSchema)
    def read() -> Any:
        # beside the declared fields, what a service might carry by mistake: it must never leave
        return {"id": "t-1", "count": 3, "sealed_key": "zxq-canary-key"}, {"ETag": '"v1"'}

    @blp.route("/written", methods=["POST"])
    @blp.response(201, ThingSchema)
    def write() -> Any:
        return answer(Written("form", "t-2", 1, True, {"id": "t-2", "sealed_key": "zxq-canary-key"}))

    @blp.route("/bypass")
    @signed
    @blp.response(200, ThingSchema)
    def bypass() -> Any:
        return Response(json.dumps({"id": "t-3", "sealed_key": "zxq-canary-key"}), mimetype="application/json")

    Api(app).register_blueprint(blp)
    return app


@pytest.fixture
def seam(keyring_path: Path) -> FlaskClient:
    return _seam_app(keyring_path).test_client()


def test_a_signed_answer_is_what_its_schema_let_through(seam: FlaskClient, keyring_path: Path) -> None:
    response = seam.get("/things/signed")
    assert response.get_data() == canonical({"id": "t-1", "count": 3})
    assert (response.headers["ETag"], response.headers["Cache-Control"]) == ('"v1"', "no-store")
    keys = Keyring.load(keyring_path).jwks()["keys"]
    assert verify_detached_by_service(response.headers["X-JWS-Signature"], response.get_data(), keys)


def test_a_write_answer_is_dumped_by_its_schema(seam: FlaskClient) -> None:
    response = seam.post("/things/written")
    assert (response.status_code, response.headers["Location"], response.headers["ETag"]) == (
        201, "/api/v1/forms/t-2", '"1"')
    assert response.get_json() == {"id": "t-2"}


def test_a_signed_view_that_skips_its_schema_is_an_error_not_an_unchecked_answer(seam: FlaskClient) -> None:
    with pytest.raises(TypeError, match="must return a body"):
        seam.get("/things/bypass")


def test_the_app_signs_the_bytes_it_sends(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    response = client.get(f"/api/v1/forms/{form_id}", headers={"Authorization": f"Bearer {net.ngo.sdk.token()}"})
    assert response.status_code == 200 and response.headers["ETag"]
    assert response.get_data() == canonical(response.get_json())
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert verify_detached_by_service(response.headers["X-JWS-Signature"], response.get_data(), keys)
