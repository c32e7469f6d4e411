"""The web form's test harness: the real app served over real HTTP, and a real browser driving it.

- ``web``: a real ``nrm-api serve`` (tests/serving.py) per backend for the module, with ``add_user`` to make
  people (with TOTP, the default) in its database and ``events`` to read its audit log.
- ``http``: a plain HTTP session against it that keeps cookies (``tests.web.support.Http``).
- ``browser``: Debian's chromium driven by Playwright (never a downloaded browser); ``page`` is a new
  context with JavaScript on, ``page_nojs`` one with JavaScript off. ``shot(page, name)`` writes a
  screenshot under the run's base temp folder (``screenshots/``), ``axe(page)`` fails on any serious
  or critical accessibility violation of the page (axe-core from node_modules, injected).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _backends
from tests.web.support import (
    Http,
    WebServer,
    axe_check,
    compile_catalogs,
    serve_web,
)


@pytest.fixture(scope="session", autouse=True)
def catalogs() -> None:
    """The .mo files the pages are translated from, compiled from the committed .po files (as make does)."""
    compile_catalogs()


@pytest.fixture(scope="module", params=_backends())
def web(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        catalogs: None) -> Iterator[WebServer]:
    """A real server for the module's tests, on each backend."""
    with serve_web(str(request.param), tmp_path_factory.mktemp(f"web-{request.param}")) as server:
        yield server


@pytest.fixture
def http(web: WebServer) -> Http:
    """A cookie-keeping HTTP client of ``web`` (no redirects followed: tests look at each 303)."""
    return Http(web.base)


def _context(browser: Any, web: WebServer, *, javascript: bool, locale: str = "en-GB") -> Iterator[Any]:
    context = browser.new_context(java_script_enabled=javascript, locale=locale, base_url=web.base,
                                  viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    page = context.new_page()
    page.javascript_on = javascript  # axe_check reads it (evaluating a script would hang with scripts off)
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        context.close()
    assert errors == [], errors  # a CSP violation or a script error shows here (a 4xx page is no error)


@pytest.fixture
def page(browser: Any, web: WebServer) -> Iterator[Any]:
    """A fresh browser context with JavaScript on (English unless a test switches)."""
    yield from _context(browser, web, javascript=True)


@pytest.fixture
def page_nojs(browser: Any, web: WebServer) -> Iterator[Any]:
    """A fresh browser context with JavaScript off: every page must work without it."""
    yield from _context(browser, web, javascript=False)


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``<basetemp>/screenshots`` (or $NRM_TEST_SCREENSHOT_DIR)."""
    import os

    folder = Path(os.environ.get("NRM_TEST_SCREENSHOT_DIR") or tmp_path_factory.getbasetemp() / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def shot(screenshots: Path, request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``shot(page, name)``: a full-page screenshot named after the test and ``name``."""

    def take(page: Any, name: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in f"{request.node.name}-{name}")
        path = screenshots / f"{safe}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def axe() -> Callable[[Any], list[dict[str, Any]]]:
    """``axe(page)``: run axe-core on the page; fails on serious or critical violations, returns the rest."""
    return axe_check
