"""Tee it up on time: the deals-channel trigger is the move INTO the proposal stage and the
words said before sending, so the ask ("one ask before you send it") comes while it can
still be asked. A post saying the proposal is already out gets the follow-up version: ask
when you confirm they received it. The posts are shaped like the corpus items in
tests/support/fixtures/deal_corpus.jsonl (ids `teeup-*`), which say where each comes from."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.devkit.standin import SlackStandIn
from tests.conftest import DEALS, REP, REP2, RunningBot
from tests.scenarios.test_debrief_languages import english_leftovers, everything_sent_to
from tests.support.debrief_steps import assert_all_block_kit_valid, click, dm_messages

REP_FR = "U0REP3"
REPS = {"en": REP, "es": REP2, "fr": REP_FR}
EMAILS = {"en": "rita@acme.test", "es": "sam@acme.test", "fr": "fanny@acme.test"}
SALESFORCE = {"bot_id": "B0SALESFOR", "bot_profile": {"id": "B0SALESFOR", "name": "Salesforce"}}
HUBSPOT = {"bot_id": "B0HUBSPOT", "bot_profile": {"id": "B0HUBSPOT", "name": "HubSpot"}}

# What reps type when the proposal is about to go out, per language.
BEFORE_TYPED = {
    "en": "Proposal drafted for Acme Widgets, sending it tomorrow <@{rep}>",
    "es": "Propuesta preparada para Acme Widgets, la envío mañana <@{rep}>",
    "fr": "Proposition prête pour Acme Widgets, je l'envoie demain <@{rep}>",
}
# Salesforce's default proposal stage, as its localised UI names it.
SF_STAGE = {
    "en": ("Stage", "Proposal/Price Quote", "Opportunity Owner"),
    "es": ("Etapa", "Propuesta/Presupuesto", "Propietario"),
    "fr": ("Étape", "Proposition/Devis", "Propriétaire"),
}
SENT_TYPED = {
    "en": "Proposal sent to Acme Widgets <@{rep}>",
    "es": "Propuesta enviada a Acme Widgets <@{rep}>",
    "fr": "Proposition envoyée à Acme Widgets <@{rep}>",
}


@pytest.fixture(autouse=True)
def _french_rep(standin: SlackStandIn) -> None:
    standin.add_user(
        REP_FR,
        name="fanny",
        real_name="Fanny Vendeuse",
        email="fanny@acme.test",
        tz="Europe/Paris",
        locale="fr-FR",
    )


def post(bot: RunningBot, text: str, *, user: str | None = None, **extra: Any) -> None:
    event = bot.slack.message_event(text, channel=DEALS, user=user or "U0POSTER")
    event.update(extra)
    if extra.get("bot_id"):
        event.pop("user", None)
    assert bot.send(bot.slack.event_request(event)).status == 200


def salesforce_alert(bot: RunningBot, lang: str) -> None:
    """Salesforce for Slack record alert: the opportunity as the attachment title, the
    stage, amount and owner as fields."""
    stage_label, stage, owner_label = SF_STAGE[lang]
    attachment = {
        "title": "Acme Widgets",
        "fields": [
            {"title": stage_label, "value": stage, "short": True},
            {"title": owner_label, "value": EMAILS[lang], "short": True},
        ],
        "fallback": "Acme Widgets",
    }
    post(bot, "", attachments=[attachment], **SALESFORCE)


def hubspot_stage(bot: RunningBot, stage: str) -> None:
    """HubSpot for Slack deal notification: the deal link, then '*Deal stage*\\nvalue'."""
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Umbrella Corp*"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Deal stage*\n{stage}"},
                {"type": "mrkdwn", "text": f"*Deal owner*\n{EMAILS['en']}"},
            ],
        },
    ]
    post(bot, "Deal stage changed", blocks=blocks, **HUBSPOT)


def cat(bot: RunningBot, lang: str, key: str, account: str = "Acme Widgets") -> str:
    return bot.rt.catalog.text(lang, key, account=account)


def only_dm(bot: RunningBot, user: str) -> str:
    [message] = dm_messages(bot, user)
    return json.dumps(message, ensure_ascii=False)


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_the_words_before_sending_get_the_ask_before_sending(bot: RunningBot, lang: str) -> None:
    rep = REPS[lang]
    post(bot, BEFORE_TYPED[lang].format(rep=rep))
    dm = only_dm(bot, rep)
    assert cat(bot, lang, "teeup.header") in dm
    assert cat(bot, lang, "teeup.script") in dm
    assert cat(bot, lang, "teeup.proposal_out.header") not in dm
    assert_all_block_kit_valid(bot)


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_the_move_into_salesforces_proposal_stage_gets_the_ask(bot: RunningBot, lang: str) -> None:
    rep = REPS[lang]
    salesforce_alert(bot, lang)
    dm = only_dm(bot, rep)
    assert cat(bot, lang, "teeup.header") in dm
    assert "teeup_agreed" in dm


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_proposal_sent_gets_the_follow_up_version(bot: RunningBot, lang: str) -> None:
    rep = REPS[lang]
    post(bot, SENT_TYPED[lang].format(rep=rep))
    dm = only_dm(bot, rep)
    assert cat(bot, lang, "teeup.proposal_out.header") in dm
    assert cat(bot, lang, "teeup.proposal_out.script") in dm
    # Never "one ask before you send it" once it has gone.
    assert cat(bot, lang, "teeup.intro") not in dm
    assert cat(bot, lang, "teeup.header") not in dm
    click(bot, rep, "teeup_agreed")
    if lang != "en":
        assert english_leftovers(bot, lang, everything_sent_to(bot, rep)) == []
    assert_all_block_kit_valid(bot)


def test_hubspot_stages_decision_maker_asks_and_contract_sent_is_the_same_ask(
    bot: RunningBot,
) -> None:
    hubspot_stage(bot, "Presentation scheduled")  # too early: nothing
    assert dm_messages(bot, REP) == []
    hubspot_stage(bot, "Decision maker bought-in")
    [before] = dm_messages(bot, REP)
    assert cat(bot, "en", "teeup.header", "Umbrella Corp") in json.dumps(before)
    # The contract goes out a day later: the rep already has the ask, so no second DM.
    bot.rt.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    hubspot_stage(bot, "Contract sent")
    bot.tick()
    assert len(dm_messages(bot, REP)) == 1


def test_hubspot_contract_sent_alone_gets_the_follow_up_version(bot: RunningBot) -> None:
    hubspot_stage(bot, "Contract sent")
    dm = only_dm(bot, REP)
    assert cat(bot, "en", "teeup.proposal_out.header", "Umbrella Corp") in dm


def test_one_deal_in_the_channel_three_times_is_one_ask(bot: RunningBot) -> None:
    """The CRM's stage move, the rep's "proposal drafted" and then "proposal sent"."""
    salesforce_alert(bot, "en")
    post(bot, BEFORE_TYPED["en"].format(rep=REP), user=REP)
    post(bot, SENT_TYPED["en"].format(rep=REP), user=REP)
    bot.tick()
    assert len(dm_messages(bot, REP)) == 1
    # Another account is another ask; and a tee-up the rep asks for is always sent.
    post(bot, "Proposal drafted for Initech <@U0REP1>")
    bot.send(bot.slack.slash_command("tee-up Acme Widgets", user=REP))
    assert len(dm_messages(bot, REP)) == 3


def test_an_answered_ask_is_not_asked_again_by_the_channel(bot: RunningBot) -> None:
    post(bot, BEFORE_TYPED["en"].format(rep=REP))
    click(bot, REP, "teeup_agreed")
    bot.rt.clock.advance(timedelta(days=5))  # type: ignore[attr-defined]
    post(bot, SENT_TYPED["en"].format(rep=REP))
    bot.tick()
    assert len(dm_messages(bot, REP)) == 1


def test_not_asked_yet_keeps_the_version_and_asks_again_with_the_question_alone(
    bot: RunningBot,
) -> None:
    post(bot, SENT_TYPED["en"].format(rep=REP))
    click(bot, REP, "teeup_not_asked")
    [answered] = dm_messages(bot, REP)
    # The answer replaces "Not asked yet"; Agreed / Declined stay to record it once asked,
    # and the message still reads as the proposal-sent version.
    shown = json.dumps(answered)
    assert cat(bot, "en", "teeup.proposal_out.header") in shown
    assert "teeup_not_asked" not in shown and "teeup_agreed" in shown
    bot.rt.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    bot.tick()
    [again] = dm_messages(bot, REP)[1:]
    # The follow-up asks the question alone: the script is in the first DM.
    assert "teeup_agreed" in json.dumps(again)
    assert cat(bot, "en", "teeup.proposal_out.header") not in json.dumps(again)
    assert "Acme Widgets" in json.dumps(again)


def test_the_command_still_asks_before_sending(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("tee-up Acme Widgets", user=REP))
    assert cat(bot, "en", "teeup.header") in only_dm(bot, REP)
