"""The form's code lists (HTCDS 2.0 and what nrm-api adds), with labels in en, ru and be."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

LANGUAGES = ("en", "ru", "be")


@cache
def code_lists() -> dict[str, dict[str, dict[str, str]]]:
    """Every code list: ``{list: {code: {en, ru, be}}}``."""
    raw: dict[str, dict[str, list[str]]] = yaml.safe_load(
        resources.files(__package__).joinpath("vocabulary.yaml").read_text(encoding="utf-8"))
    return {name: {str(code): dict(zip(LANGUAGES, labels, strict=True)) for code, labels in codes.items()}
            for name, codes in raw.items()}


def codes(name: str) -> list[str]:
    """The codes of one list, in their order."""
    return list(code_lists()[name])


def labels(language: str) -> dict[str, Any]:
    """Every list's labels in one language."""
    return {name: {code: text[language] for code, text in entries.items()} for name, entries in code_lists().items()}
