"""The service's field errors in the reader's language.

The form's schema (marshmallow) and its consent rules word their refusals in English; the pages
say the same in ru, be or en. What is not listed here is shown as the service worded it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext


def _fixed() -> dict[str, str]:
    return {
        "Missing data for required field.": gettext("This is required."),
        "Field may not be null.": gettext("This is required."),
        "Not a valid integer.": gettext("Enter a whole number."),
        "Not a valid date.": gettext("Enter a date."),
        "Not a valid aware datetime.": gettext("Enter a date and time."),
        "Not a valid datetime.": gettext("Enter a date and time."),
        "Not a valid email address.": gettext("Enter an e-mail address, like name@example.org."),
        "Not a valid boolean.": gettext("Tick the box or leave it empty."),
        "Not a valid string.": gettext("Enter text."),
        "a value is given twice": gettext("A value is given twice."),
        "an ISO 3166-1 alpha-2 code, e.g. BY": gettext("Enter a two-letter country code, like BY."),
        "an ISO 639 code, e.g. ru": gettext("Enter a language code, like ru."),
        "Shorter than minimum length 1.": gettext("Choose at least one."),
        "String does not match expected pattern.": gettext("Enter it as the label says."),
        "a child's legal representative must be recorded": gettext("Record the child's legal representative."),
        "contradicts person.birthdate: set child.age_disputed if the age is in doubt":
            gettext("This contradicts the date of birth. Tick “Age disputed” if the age is in doubt."),
        "an adult who has not consented to identification is an anonymous notification: no identifying field":
            gettext("The person did not consent to identification: leave this empty (an anonymous notification)."),
    }


def _length(match: re.Match[str]) -> str:
    return str(gettext("Enter %(low)s to %(high)s characters.", low=match[1], high=match[2]))


def _range(match: re.Match[str]) -> str:
    return str(gettext("Enter a number from %(low)s to %(high)s.", low=match[1], high=match[2]))


def _choose(_match: re.Match[str]) -> str:
    return str(gettext("Choose one of the options."))


PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"), _length),
    (re.compile(r"^Must be greater than or equal to (-?\d+) and less than or equal to (-?\d+)\.$"), _range),
    (re.compile(r"^Must be one of: .*\.$"), _choose),
)


def translated(message: str) -> str:
    """``message`` of the service in the page's language, or as it is when it is not one we know."""
    fixed = _fixed().get(message)
    if fixed is not None:
        return fixed
    for pattern, words in PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return words(match)
    return message
