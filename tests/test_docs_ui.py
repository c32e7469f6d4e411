"""`/api/docs` in a real browser: Debian's chromium renders the OpenAPI 3.1 document, from this host only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from nrm_api.wellknown import SWAGGER_UI_DIR

NRM_API = str(Path(sys.executable).with_name("nrm-api"))
CHROMIUM = "/usr/bin/chromium"


def _missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} is absent (make system-packages installs it)"
    if not SWAGGER_UI_DIR.is_dir():
        return "Swagger UI is not installed (make runs npm ci)"
    return None


@pytest.fixture(scope="module")
def installed() -> None:
    """Skip where chromium or Swagger UI is not installed, unless ``make test`` (which installs both) runs."""
    missing = _missing()
    if missing:
        if os.environ.get("NRM_TEST_REQUIRE_BROWSER"):
            pytest.fail(f"NRM_TEST_REQUIRE_BROWSER is set but {missing}")
        pytest.skip(missing)


@pytest.fixture(scope="module")
def served(installed: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo served by gunicorn on a free loopback port, stopped at the end."""
    from tests.test_demo import _env, _free_port

    instance = tmp_path_factory.mktemp("docs-instance")
    subprocess.run([NRM_API, "demo", "setup"], env=_env(instance), capture_output=True, timeout=120, check=True)
    env = _env(instance)
    env.update(dict(line.split("=", 1) for line in (instance / "demo.env").read_text().splitlines()))
    port = _free_port()
    server = subprocess.Popen([NRM_API, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).close()  # noqa: S310 - our loopback server
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_swagger_ui_5_is_served_and_nothing_else_of_its_package(installed: None, client: FlaskClient) -> None:
    with client.get("/api/docs/static/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200 and b"SwaggerUIBundle" in asset.get_data()
    version = json.loads((SWAGGER_UI_DIR / "package.json").read_text())["version"]
    assert int(version.split(".")[0]) >= 5, version  # the first major version that renders OpenAPI 3.1
    for unlisted in ("package.json", "swagger-ui-bundle.js.map", "../swagger-ui-dist/package.json", "index.html"):
        assert client.get(f"/api/docs/static/{unlisted}").status_code == 404, unlisted


def test_the_contract_the_document_links_to_is_served(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    assert spec["externalDocs"]["url"] == "docs/contract.md"
    with client.get("/api/docs/contract.md") as answer:  # where that relative link lands, seen from /api/docs
        assert answer.status_code == 200 and answer.mimetype == "text/markdown"
        assert "### Binding (v1.1)" in answer.get_data(as_text=True)


def test_the_docs_page_renders_the_openapi_3_1_document(served: str, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import Route

    ours = urlsplit(served).netloc
    outside: list[str] = []
    errors: list[str] = []

    def only_ours(route: Route) -> None:
        if urlsplit(route.request.url).netloc == ours or route.request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context = browser.new_context(viewport={"width": 1280, "height": 2000})
    try:
        page = context.new_page()
        page.route("**/*", only_ours)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{served}/api/docs", wait_until="load", timeout=30_000)
        # rendered operations, or Swagger UI's own refusal: either way the assertions below say which
        page.locator(".opblock").or_(page.get_by_text("Unable to render")).first.wait_for(timeout=30_000)
        submit = page.locator(".opblock-post", has=page.locator(".opblock-summary-path[data-path='/api/v1/forms']"))
        submits, count = submit.count(), page.locator(".opblock").count()
        text = page.inner_text("body")
        page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
        if os.environ.get("NRM_TEST_SCREENSHOT_DIR"):
            shutil.copy(tmp_path / "docs.png", Path(os.environ["NRM_TEST_SCREENSHOT_DIR"]) / "docs.png")
    finally:
        context.close()
    assert "Unable to render" not in text
    assert submits == 1
    assert count > 20, count
    assert "POST\n/api/v1/forms" in text or "POST /api/v1/forms" in text.replace("\n", " ")
    assert "3.1" in text  # the OAS version badge Swagger UI shows for the document it rendered
    assert errors == []
    assert outside == []
