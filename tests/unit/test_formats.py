"""Dates, times and amounts in the reader's locale (bot/messages/formats.py, Babel's CLDR
data), and Texts filling them into scripts."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.messages import Texts
from bot.messages.catalog import ScriptCatalog
from bot.messages.formats import (
    Amount,
    babel_locale,
    format_amount,
    format_date,
    format_dates,
    format_value,
)

DAY = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("locale", "shown"),
    [
        ("en-US", "November 30, 2026"),
        ("en-GB", "30 November 2026"),
        ("es-ES", "30 de noviembre de 2026"),
        ("es-LA", "30 de noviembre de 2026"),
        ("fr-FR", "30 novembre 2026"),
        ("fr-CA", "30 novembre 2026"),
        (None, "November 30, 2026"),
        ("xx-YY", "November 30, 2026"),
        ("ja-JP", "2026年11月30日"),
    ],
)
def test_a_date_is_written_the_locales_way(locale: str | None, shown: str) -> None:
    assert format_date(DAY, locale) == shown


@pytest.mark.parametrize(
    ("locale", "currency", "amount", "shown"),
    [
        ("en-US", "USD", "50000", "$50,000"),
        ("en-US", "EUR", "1234.5", "€1,234.50"),
        ("es-ES", "EUR", "50000", "50.000\u00a0€"),
        ("es-ES", "USD", "50000", "50.000\u00a0US$"),
        ("fr-FR", "EUR", "50000", "50\u202f000\u00a0€"),
        ("fr-FR", "EUR", "1234.5", "1\u202f234,50\u00a0€"),
        ("es-LA", "USD", "50000", "USD\u00a050,000"),
        ("en-GB", "GBP", "50000", "£50,000"),
        ("es-ES", None, "50000", "50.000"),
    ],
)
def test_an_amount_has_the_locales_separators_and_currency(
    locale: str, currency: str | None, amount: str, shown: str
) -> None:
    assert format_amount(Decimal(amount), currency, locale) == shown


def test_no_amount_is_an_empty_string() -> None:
    assert format_amount(None, "EUR", "fr-FR") == ""


def test_slacks_latin_american_spanish_is_cldrs_es_419() -> None:
    assert str(babel_locale("es-LA")) == "es_419"
    assert str(babel_locale("es-ES")) == "es_ES"
    assert str(babel_locale("")) == "en_US"


def test_values_are_written_by_kind() -> None:
    # A datetime arrives already on the reader's wall clock.
    paris = datetime(2026, 11, 30, 17, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert format_value(paris, "fr-FR") == "30 novembre 2026, 17:30"
    assert format_value(time(17, 30), "en-US") == "5:30\u202fPM"
    assert format_value(Amount(Decimal("5000"), "EUR"), "es-ES") == "5.000\u00a0€"
    assert format_value(12000, "fr-FR") == "12\u202f000"
    assert format_value(3, "fr-FR") == 3
    assert format_value("Globex", "fr-FR") == "Globex"
    # A day kept as ISO text (run data, a nudge's payload) is written as a date too...
    assert format_value("2026-11-30", "es-ES") == "30 de noviembre de 2026"
    # ...but text that only looks like one stays as typed.
    assert format_value("2026-13-45", "es-ES") == "2026-13-45"
    assert format_value("order 2026-11-30", "es-ES") == "order 2026-11-30"


def test_several_dates_are_listed_the_locales_way() -> None:
    days = [date(2026, 12, 25), date(2027, 1, 1)]
    assert format_dates(days, "fr-FR") == "25 décembre 2026 et 1 janvier 2027"
    assert format_dates(days, "es-ES") == "25 de diciembre de 2026 y 1 de enero de 2027"


def test_texts_writes_every_date_it_fills_in_the_readers_locale() -> None:
    catalog = ScriptCatalog.load()
    assert (
        Texts(catalog, "fr-FR")("concern.list_next", date=DAY)
        == "_Prochain point\u00a0: 30 novembre 2026_"
    )
    assert (
        Texts(catalog, "es-ES")("concern.list_next", date=DAY)
        == "_Próximo seguimiento: 30 de noviembre de 2026_"
    )
    assert (
        Texts(catalog, "en-US")("concern.list_next", date="2026-11-30")
        == "_Next check-in: November 30, 2026_"
    )
