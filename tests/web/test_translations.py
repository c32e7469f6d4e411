"""Every string of the web form is translated into Russian and Belarusian, and the catalogs are current.

A page author adds strings, runs `make messages` (extract and update), fills ``msgstr`` in ru and be:
this fails for a string left out of a catalog, left empty, or marked fuzzy.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.web.support import TRANSLATIONS

WEB = TRANSLATIONS.parent
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.do"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}


def _catalog(lang: str) -> dict[str, tuple[str, bool]]:
    path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=lang)
    return {str(m.id if isinstance(m.id, str) else m.id[0]): (
        m.string if isinstance(m.string, str) else (m.string[0] if m.string else ""), m.fuzzy)
        for m in catalog if m.id}


def _extracted() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(WEB), METHODS, options_map=OPTIONS, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("lang", ["ru", "be"])
def test_every_string_has_a_translation_neither_empty_nor_fuzzy(lang: str) -> None:
    catalog = _catalog(lang)
    untranslated = sorted(msgid for msgid, (text, fuzzy) in catalog.items() if not text.strip() or fuzzy)
    assert untranslated == []


@pytest.mark.parametrize("lang", ["ru", "be", "en"])
def test_every_string_of_the_pages_is_in_the_catalog(lang: str) -> None:
    extracted = _extracted()
    assert {"Sign in", "Skip to main content", "Inbox", "You have signed out."} <= extracted  # every kind
    missing = sorted(extracted - set(_catalog(lang)))
    assert missing == [], "run `make messages`, then translate: " + repr(missing)


def test_the_catalogs_compile_and_the_po_files_are_committed_not_the_mo_files() -> None:
    ignored = Path(TRANSLATIONS.parents[2] / ".gitignore").read_text().split()
    assert "*.mo" in ignored
    for lang in ("ru", "be", "en"):
        assert (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").is_file()  # the session fixture compiled it
