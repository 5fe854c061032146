"""The scripts added for the no-decision call, the articles' lines, the tee-up after the
proposal went out and the follow-up are written in every language, not left in English
(test_scripts checks that every language has every key; this checks they are translated)."""

from __future__ import annotations

import pytest

from bot.messages.catalog import ScriptCatalog

GROUPS = ("no_decision.script.", "debrief.words.", "teeup.proposal_out.", "followup.")


@pytest.mark.parametrize("lang", ["es", "fr"])
def test_the_new_groups_are_translated(lang: str) -> None:
    catalog = ScriptCatalog.load()
    keys = sorted(k for k in catalog.keys() if k.startswith(GROUPS))
    assert len(keys) >= 39
    untranslated = [k for k in keys if catalog.template(lang, k) == catalog.template("en", k)]
    assert untranslated == []


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_the_no_decision_script_never_speaks_of_a_rival(lang: str) -> None:
    """Issue: "the team you chose" and "went another way" contradict a no-decision."""
    catalog = ScriptCatalog.load()
    rival = {
        "en": ("team you chose", "another way", "made your decision"),
        "es": ("equipo que eligieron", "otro camino", "tomaron una decisión"),
        "fr": ("équipe que vous avez choisie", "autre voie", "pris votre décision"),
    }[lang]
    for key in (k for k in catalog.keys() if k.startswith("no_decision.script.")):
        text = catalog.template(lang, key).lower()
        assert not any(word in text for word in rival), key
