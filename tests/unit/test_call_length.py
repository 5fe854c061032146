"""One call length across every message: the articles ask for 5–10 minutes for the debrief,
so no script says "ten", "ten to fifteen" or "fifteen" minutes in any language."""

from __future__ import annotations

import re

import pytest

from bot.messages.catalog import SUPPORTED, ScriptCatalog

# A number of minutes written out, or a range, as each language says it.
MINUTES = re.compile(
    r"(\d+(?:\s*(?:–|-|to|a|à)\s*\d+)?|[^\W\d]+)\s+(?:minutes?|minutos?)\b", re.IGNORECASE
)
# Also fine: the reflection's "two minutes", "a few minutes", "the last minute", "in a minute".
ALLOWED = {
    "en": {"5–10", "two", "few", "a", "last"},
    "es": {"5 a 10", "dos", "unos", "un"},
    "fr": {"5 à 10", "deux", "quelques", "une"},
}


@pytest.mark.parametrize("lang", SUPPORTED)
def test_every_minute_count_is_the_articles_5_to_10(lang: str) -> None:
    catalog = ScriptCatalog.load()
    wrong = []
    for key in sorted(catalog.keys()):
        text = catalog.template(lang, key).replace("\u00a0", " ")
        for match in MINUTES.finditer(text):
            said = match.group(1).lower()
            if said not in ALLOWED[lang]:
                wrong.append(f"{key}: {match.group()!r}")
    assert wrong == []


@pytest.mark.parametrize("lang", SUPPORTED)
def test_the_debrief_length_is_said_the_same_way_everywhere(lang: str) -> None:
    catalog = ScriptCatalog.load()
    span = {"en": "5–10 minutes", "es": "5 a 10 minutos", "fr": "5 à 10 minutes"}[lang]
    for key in (
        "win.intro",
        "mode.helped",
        "debrief.intro",
        "debrief.opener.line2",
        "teeup.script",
        "teeup.proposal_out.script",
        "prep.opener",
        "reminder.debrief",
        "no_decision.script.opener_line2",
    ):
        assert span in catalog.template(lang, key).replace("\u00a0", " "), key
