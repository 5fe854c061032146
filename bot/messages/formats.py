"""Dates, times and amounts as a reader in their own locale writes them.

The one place a date or a number becomes words: "30 November 2026" for en-GB, "November 30,
2026" for en-US, "30 de noviembre de 2026" for es-ES, "30 novembre 2026" for fr-FR; "€50,000",
"50.000 €", "50 000 €". Babel carries the CLDR data (month names, separators, where the
currency sign goes) for every locale Slack sends, which no table of ours would keep up with.

`Texts` (bot/messages/__init__.py) runs every value it fills into a script through
`format_value`, so a builder passes a `date`, a local `datetime` or an `Amount` and never a
string it formatted itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.lists import format_list

__all__ = [
    "Amount",
    "babel_locale",
    "format_amount",
    "format_date",
    "format_dates",
    "format_datetime",
    "format_short_date",
    "format_value",
]

_DEFAULT = "en_US"
# Slack's own locale names that are not CLDR ones: "es-LA" is Slack's Latin-American
# Spanish, CLDR's "es-419".
_SLACK_ALIASES = {"es_LA": "es_419"}
# A currency code as a prefix ("USD50,000", CLDR's pattern for es-419) reads better spaced.
_GLUED_CODE = re.compile(r"^([A-Z]{3})(?=\d)")


@dataclass(frozen=True)
class Amount:
    """A deal's amount with its currency (ISO 4217 code, or None when the post gave none)."""

    value: Decimal
    currency: str | None = None


@lru_cache(maxsize=64)
def babel_locale(locale: str | None) -> Locale:
    """The Babel locale for a Slack locale ("en-US", "es-ES", "es-LA", "fr-CA") or a bare
    language ("es"); US English when Slack gave none or one CLDR does not know."""
    name = (locale or "").strip().replace("-", "_")
    name = _SLACK_ALIASES.get(name, name)
    for candidate in (name, name.split("_", 1)[0]):
        if not candidate:
            continue
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse(_DEFAULT)


def format_date(day: date, locale: str | None) -> str:
    """The long form: "November 30, 2026", "30 de noviembre de 2026", "30 novembre 2026"."""
    return babel_dates.format_date(day, "long", locale=babel_locale(locale))


def format_short_date(day: date, locale: str | None) -> str:
    """Day and month only, for lists: "Nov 30", "30 nov", "30 nov."."""
    return babel_dates.format_skeleton("MMMd", day, locale=babel_locale(locale))


def format_datetime(when: datetime, locale: str | None) -> str:
    """A local date and time ("November 30, 2026, 9:00 AM", "30 novembre 2026 09:00"); the
    caller has already put `when` in the reader's zone."""
    loc = babel_locale(locale)
    day = babel_dates.format_date(when.date(), "long", locale=loc)
    clock = babel_dates.format_time(when.time(), "short", locale=loc)
    # CLDR's own glue for a long date and a time ("{1} 'at' {0}", "{1} 'à' {0}"); its
    # quotes only mark literal text.
    glue = str(babel_dates.get_datetime_format("long", locale=loc)).replace("'", "")
    return glue.replace("{1}", day).replace("{0}", clock)


def format_dates(days: Iterable[date], locale: str | None, *, short: bool = False) -> str:
    """Several dates as the locale lists them: "December 25, 2026 and January 1, 2027", or
    with `short` (days of one week) "Nov 23 and Nov 25", "23 nov y 25 nov"."""
    write = format_short_date if short else format_date
    return format_list([write(d, locale) for d in days], locale=babel_locale(locale))


def format_amount(amount: Decimal | None, currency: str | None, locale: str | None) -> str:
    """ "$50,000", "50.000 €", "50 000 €"; cents only when there are some; a plain number
    with the locale's separators when no currency was given."""
    if amount is None:
        return ""
    loc = babel_locale(locale)
    whole = amount == amount.to_integral_value()
    if not currency:
        return babel_numbers.format_decimal(amount, format="#,##0" if whole else None, locale=loc)
    pattern = loc.currency_formats["standard"].pattern
    if whole:
        pattern = pattern.replace(".00", "")
    text = babel_numbers.format_currency(
        amount, currency.upper(), format=pattern, locale=loc, currency_digits=not whole
    )
    return _GLUED_CODE.sub("\\1\u00a0", text)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def format_value(value: object, locale: str | None) -> object:
    """A value about to fill a script placeholder, in the reader's locale: dates, local
    datetimes, amounts and large whole numbers; anything else as it is.

    A day kept as ISO text (run data, a nudge's payload: JSON has no dates) is a date too,
    so no "2026-11-30" reaches a reader however a builder got it."""
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return format_datetime(value, locale)
    if isinstance(value, date):
        return format_date(value, locale)
    if isinstance(value, time):
        return babel_dates.format_time(value, "short", locale=babel_locale(locale))
    if isinstance(value, Amount):
        return format_amount(value.value, value.currency, locale)
    if isinstance(value, Decimal):
        return babel_numbers.format_decimal(value, locale=babel_locale(locale))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1000:
        return babel_numbers.format_decimal(value, locale=babel_locale(locale))
    return value
