"""docs/web.md, the contract of the pages: its address table names every page of the web Blueprint.

Read from the app's route map (as ``test_bola`` reads it): each rule of an endpoint ``web.*`` but the
static files, with its methods, must be a row of the table under "## Addresses" — a new page, or a
new method of one, without its documentation fails, and so does a row for a page no longer there.
"""

from __future__ import annotations

import re

from flask import Flask

from tests.conftest import ROOT_DIR

WEB_MD = ROOT_DIR / "docs" / "web.md"
#: A row of the address table: `| `address` | methods | …`.
ROW = re.compile(r"^\| `(/[^`]*)` \| ([A-Z, ]+) \|", re.MULTILINE)


def _documented() -> dict[str, set[str]]:
    text = WEB_MD.read_text(encoding="utf-8")
    table = text.split("\n## Addresses\n", 1)[1].split("\n## ", 1)[0]
    return {address: {method.strip() for method in methods.split(",")} for address, methods in ROW.findall(table)}


def _routed(app: Flask) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("web.") and rule.endpoint != "web.static":
            address = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"<\1>", rule.rule)  # a converter is no part of the address
            found.setdefault(address, set()).update((rule.methods or set()) - {"HEAD", "OPTIONS"})
    return found


def test_the_address_table_is_read() -> None:
    documented = _documented()
    assert documented["/login"] == {"GET", "POST"} and documented["/logout"] == {"POST"}


def test_every_page_is_in_the_address_table_with_its_methods(app: Flask) -> None:
    routed, documented = _routed(app), _documented()
    missing = sorted(set(routed) - set(documented))
    assert missing == [], f"add a row to docs/web.md (## Addresses) for: {missing}"
    stale = sorted(set(documented) - set(routed))
    assert stale == [], f"docs/web.md lists addresses no page answers: {stale}"
    wrong = {address: (sorted(documented[address]), sorted(methods)) for address, methods in routed.items()
             if documented[address] != methods}
    assert wrong == {}, f"docs/web.md's methods (documented, routed) differ for: {wrong}"
