"""A no-decision deal gets its own script: "not now", timing, priorities, the status quo,
what would make it worth doing, staying in touch — never the loss script's "you've made
your decision", "the team you chose" or "why X went another way". In en, es and fr, for
the rep's call script, the guess, the log form and the manager's call."""

from __future__ import annotations

import json

import pytest

from bot.devkit.standin import SlackStandIn
from tests.conftest import MANAGER, REP, REP2, RunningBot
from tests.scenarios.test_debrief_languages import english_leftovers, everything_sent_to
from tests.support.debrief_steps import (
    assert_all_block_kit_valid,
    click,
    close_deal,
    dm_messages,
    last_modal,
    set_manager,
)

REP_FR = "U0REP3"
MANAGER_ES = "U0MGR2"
REPS = {"en": REP, "es": REP2, "fr": REP_FR}
ND = "no_decision.script."
# The loss wording that contradicts a no-decision (issue: "What we saw" point 2).
LOSS_ONLY = (
    "debrief.opener.line1",
    "debrief.exchange.line4",
    "guess.prompt",
    "guess.label_guess",
    "log.label_reason",
)


@pytest.fixture(autouse=True)
def _french_rep(standin: SlackStandIn) -> None:
    standin.add_user(
        REP_FR, name="fanny", real_name="Fanny Vendeuse", tz="Europe/Paris", locale="fr-FR"
    )
    standin.add_user(
        MANAGER_ES, name="marta", real_name="Marta Jefa", tz="Europe/Madrid", locale="es-ES"
    )


def cat(bot: RunningBot, lang: str, key: str, **values: str) -> str:
    return bot.rt.catalog.text(lang, key, **values)


def seen(bot: RunningBot, user: str) -> str:
    """Every DM to the user as it stands, and every modal opened, as one string."""
    views = [c.body["view"] for c in bot.standin.calls_to("views.open", ok=True)]
    return json.dumps([*dm_messages(bot, user), *views], ensure_ascii=False)


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_no_decision_gets_the_not_now_script_in_each_language(bot: RunningBot, lang: str) -> None:
    rep = REPS[lang]
    close_deal(bot, "no_decision", "Wayne Enterprises", rep)
    click(bot, rep, "loss_mode_helped")
    opener = seen(bot, rep)
    assert cat(bot, lang, ND + "guess_prompt", account="Wayne Enterprises") in opener
    assert cat(bot, lang, ND + "opener_line1") in opener
    assert cat(bot, lang, ND + "opener_line2") in opener

    click(bot, rep, "debrief_next")
    exchange = seen(bot, rep)
    for key in ("exchange_line1", "exchange_line2", "exchange_line3", "exchange_line4"):
        assert cat(bot, lang, ND + key) in exchange, key
    # The articles' moves are in the no-decision call too.
    assert cat(bot, lang, "debrief.words.went_well") in exchange
    assert cat(bot, lang, "debrief.words.sorry") in exchange

    click(bot, rep, "debrief_next")
    closer = seen(bot, rep)
    assert cat(bot, lang, ND + "closer_line4") in closer
    assert cat(bot, lang, "debrief.words.think") in closer

    click(bot, rep, "guess_open")
    guess_view = json.dumps(last_modal(bot), ensure_ascii=False)
    assert cat(bot, lang, ND + "label_guess") in guess_view
    click(bot, rep, "loss_log_open")
    log_view = json.dumps(last_modal(bot), ensure_ascii=False)
    assert cat(bot, lang, ND + "label_reason") in log_view
    assert cat(bot, lang, ND + "placeholder_reason") in log_view

    if lang != "en":
        assert english_leftovers(bot, lang, everything_sent_to(bot, rep)) == []
    everything = seen(bot, rep)
    for key in LOSS_ONLY:
        loss_text = cat(bot, lang, key, account="Wayne Enterprises")
        assert loss_text not in everything, key
    assert_all_block_kit_valid(bot)


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_a_loss_keeps_the_loss_script(bot: RunningBot, lang: str) -> None:
    rep = REPS[lang]
    close_deal(bot, "lost", "Globex", rep)
    click(bot, rep, "loss_mode_helped")
    click(bot, rep, "debrief_next")
    everything = seen(bot, rep)
    assert cat(bot, lang, "debrief.opener.line1") not in everything  # moved on in place
    assert cat(bot, lang, "debrief.exchange.line4") in everything
    assert cat(bot, lang, "debrief.words.went_well") in everything
    assert cat(bot, lang, ND + "exchange_line1") not in everything
    click(bot, rep, "guess_open")
    assert cat(bot, lang, "guess.label_guess") in json.dumps(last_modal(bot), ensure_ascii=False)


@pytest.mark.parametrize(("manager", "lang"), [(MANAGER, "en"), (MANAGER_ES, "es")])
def test_the_managers_call_on_a_no_decision_uses_the_not_now_script(
    bot: RunningBot, manager: str, lang: str
) -> None:
    set_manager(bot, REP, manager)
    close_deal(bot, "no_decision", "Wayne Enterprises", REP)
    click(bot, REP, "manager_call_request")
    bot.tick()
    dm = json.dumps(dm_messages(bot, manager), ensure_ascii=False)
    assert cat(bot, lang, ND + "manager_line1", rep=f"<@{REP}>") in dm
    assert cat(bot, lang, ND + "manager_line4") in dm
    assert cat(bot, lang, ND + "manager_intro", account="Wayne Enterprises", rep=f"<@{REP}>") in dm
    assert cat(bot, lang, "manager.script_line1", rep=f"<@{REP}>") not in dm
    assert_all_block_kit_valid(bot)


def test_the_managers_call_on_a_loss_keeps_the_loss_script(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "manager_call_request")
    bot.tick()
    dm = json.dumps(dm_messages(bot, MANAGER), ensure_ascii=False)
    assert cat(bot, "en", "manager.script_line1", rep=f"<@{REP}>") in dm
    assert cat(bot, "en", ND + "manager_line1", rep=f"<@{REP}>") not in dm


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_prep_for_an_account_that_chose_not_now_asks_what_has_changed(
    bot: RunningBot, lang: str
) -> None:
    rep = REPS[lang]
    close_deal(bot, "no_decision", "Wayne Enterprises", rep)
    body = bot.send(bot.slack.slash_command("prep Wayne Enterprises", user=rep)).json()
    assert cat(bot, lang, ND + "prep_line") in json.dumps(body["blocks"], ensure_ascii=False)
    close_deal(bot, "lost", "Globex", rep)
    body = bot.send(bot.slack.slash_command("prep Globex", user=rep)).json()
    assert cat(bot, lang, ND + "prep_line") not in json.dumps(body["blocks"], ensure_ascii=False)
