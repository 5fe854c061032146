"""The shortcuts "Log as a closed deal" (on a message) and "Log a closed deal" (global):
a modal pre-filled by the parser, confirmed or fixed, then one deal through the one intake
and one DM. Signed interactivity requests to the running bot; the stand-in records the
views and DMs."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.devkit.requests import (
    HttpResult,
    plain_text_value,
    static_select_value,
    users_select_value,
)
from bot.slack import ids
from storage.models import Deal, DealSource
from tests.conftest import DEALS, MANAGER, OTHER, REP, REP2, RunningBot
from tests.support.debrief_steps import last_modal

BOT_USER = "U0SOMEBOT"


def deals(bot: RunningBot) -> list[Deal]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Deal)).all())


def deal_dms(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    channel = bot.standin.dm_channel(user)
    return [
        c.body
        for c in bot.standin.calls_to("chat.postMessage")
        if c.response.get("ok") and c.body.get("channel") in {user, channel}
    ]


def element(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    [block] = [b for b in view["blocks"] if b.get("block_id") == block_id]
    return dict(block["element"])


def open_on(bot: RunningBot, text: str, *, channel: str = OTHER, by: str = REP) -> dict[str, Any]:
    message = bot.slack.message_event(text, channel=channel, user=MANAGER)
    request = bot.slack.message_shortcut(
        ids.LOG_DEAL_MESSAGE_SHORTCUT, message, user=by, channel=channel
    )
    assert bot.send(request).status == 200
    return last_modal(bot)


def submit(
    bot: RunningBot,
    view: dict[str, Any],
    *,
    by: str = REP,
    outcome: str | None,
    account: str | None,
    amount: str | None = None,
    rep: str | None,
) -> HttpResult:
    values = {
        ids.LOG_DEAL_OUTCOME_BLOCK: {ids.DEAL_FIELD: static_select_value(outcome)},
        ids.LOG_DEAL_ACCOUNT_BLOCK: {ids.DEAL_FIELD: plain_text_value(account)},
        ids.LOG_DEAL_AMOUNT_BLOCK: {ids.DEAL_FIELD: plain_text_value(amount)},
        ids.LOG_DEAL_REP_BLOCK: {ids.DEAL_FIELD: users_select_value(rep)},
    }
    [opened] = [
        c.response["view"]
        for c in bot.standin.calls_to("views.open", ok=True)
        if c.body["view"] == view
    ][-1:]
    request = bot.slack.view_submission(
        view["callback_id"],
        values,
        user=by,
        private_metadata=view.get("private_metadata", ""),
        view_id=opened["id"],
        blocks=view["blocks"],
    )
    return bot.send(request)


def result_text(bot: RunningBot) -> str:
    [*_, call] = bot.standin.calls_to("views.update", ok=True)
    return json.dumps(call.body["view"]["blocks"], ensure_ascii=False)


# --- the message shortcut -------------------------------------------------------------------


def test_message_shortcut_prefills_the_parsers_guess_then_logs_the_deal(bot: RunningBot) -> None:
    view = open_on(bot, f"Closed Lost: Globex <@{REP2}> · Amount: $12,500")
    assert view["callback_id"] == ids.LOG_DEAL_VIEW
    assert element(view, ids.LOG_DEAL_OUTCOME_BLOCK)["initial_option"]["value"] == "lost"
    assert element(view, ids.LOG_DEAL_ACCOUNT_BLOCK)["initial_value"] == "Globex"
    assert element(view, ids.LOG_DEAL_AMOUNT_BLOCK)["initial_value"] == "12500 USD"
    assert element(view, ids.LOG_DEAL_REP_BLOCK)["initial_user"] == REP2

    answer = submit(bot, view, outcome="lost", account="Globex", amount="12500 USD", rep=REP2)
    assert answer.status == 200
    assert answer.json()["response_action"] == "update"  # "Logging…" at once
    [deal] = deals(bot)
    assert (deal.account, deal.outcome, deal.rep_slack_id, deal.source) == (
        "Globex",
        "lost",
        REP2,
        "shortcut",
    )
    assert (deal.amount, deal.currency, deal.reported_by) == (Decimal("12500.00"), "USD", REP)
    assert deal.source_channel == OTHER
    assert len(deal_dms(bot, REP2)) == 1
    assert "Globex" in result_text(bot) and f"<@{REP2}>" in result_text(bot)


def test_the_person_fixes_what_the_parser_could_not_read(bot: RunningBot) -> None:
    view = open_on(bot, "Tough call with the Initech folks today, they went quiet")
    outcome = element(view, ids.LOG_DEAL_OUTCOME_BLOCK)
    assert "initial_option" not in outcome
    # Posted by a person: the poster is the likeliest rep.
    assert element(view, ids.LOG_DEAL_REP_BLOCK)["initial_user"] == MANAGER
    submit(bot, view, outcome="no_decision", account="Initech", rep=REP)
    [deal] = deals(bot)
    assert (deal.account, deal.outcome, deal.rep_slack_id) == ("Initech", "no_decision", REP)
    assert len(deal_dms(bot, REP)) == 1
    assert "waiting in your DMs" in result_text(bot)  # the rep logged it for themselves


def test_a_message_already_taken_in_as_a_deal_sends_no_second_dm(bot: RunningBot) -> None:
    text = f"Closed won: Acme <@{REP}>"
    message = bot.slack.message_event(text, channel=DEALS, user=MANAGER)
    bot.send(bot.slack.event_request(message))
    assert len(deal_dms(bot, REP)) == 1
    request = bot.slack.message_shortcut(ids.LOG_DEAL_MESSAGE_SHORTCUT, message, user=REP)
    bot.send(request)
    submit(bot, last_modal(bot), outcome="won", account="Acme", rep=REP)
    assert len(deals(bot)) == 1 and len(deal_dms(bot, REP)) == 1
    assert "already logged as a deal" in result_text(bot)


def test_the_same_deal_announced_elsewhere_is_linked_not_logged_twice(bot: RunningBot) -> None:
    post = bot.slack.message_event(f"Closed won: Acme <@{REP}>", channel=DEALS, user=MANAGER)
    bot.send(bot.slack.event_request(post))
    view = open_on(bot, "fyi we signed ACME, Inc. this morning")
    submit(bot, view, outcome="won", account="ACME, Inc.", rep=REP)
    assert len(deals(bot)) == 1 and len(deal_dms(bot, REP)) == 1
    with Session(bot.rt.engine) as s:
        assert [r.duplicate for r in s.exec(select(DealSource)).all()] == [False, True]
    assert "*Acme* is already logged as won" in result_text(bot)


# --- the global shortcut --------------------------------------------------------------------


def test_global_shortcut_opens_a_blank_modal_for_the_person_and_logs_the_deal(
    bot: RunningBot,
) -> None:
    assert bot.send(bot.slack.global_shortcut(ids.LOG_DEAL_GLOBAL_SHORTCUT, user=MANAGER)).status
    view = last_modal(bot)
    assert element(view, ids.LOG_DEAL_REP_BLOCK)["initial_user"] == MANAGER
    assert "initial_value" not in element(view, ids.LOG_DEAL_ACCOUNT_BLOCK)
    submit(bot, view, by=MANAGER, outcome="won", account="Hooli", amount="€ 9.900,50", rep=REP)
    [deal] = deals(bot)
    assert (deal.account, deal.rep_slack_id, deal.reported_by) == ("Hooli", REP, MANAGER)
    assert (deal.amount, deal.currency, deal.source_channel) == (Decimal("9900.50"), "EUR", None)
    assert len(deal_dms(bot, REP)) == 1


def test_the_modal_speaks_the_openers_language(bot: RunningBot) -> None:
    bot.send(bot.slack.global_shortcut(ids.LOG_DEAL_GLOBAL_SHORTCUT, user=REP2))  # es-ES
    assert last_modal(bot)["title"]["text"] == "Registrar oportunidad"
    bot.standin.add_user("U0FRANC", name="franc", locale="fr-FR")
    bot.send(bot.slack.global_shortcut(ids.LOG_DEAL_GLOBAL_SHORTCUT, user="U0FRANC"))
    assert last_modal(bot)["title"]["text"] == "Noter une affaire"


# --- bad input: said in the modal, nothing stored ---------------------------------------------


@pytest.mark.parametrize(
    ("answers", "block", "words"),
    [
        ({"outcome": None}, ids.LOG_DEAL_OUTCOME_BLOCK, "fill this in"),
        ({"account": "   "}, ids.LOG_DEAL_ACCOUNT_BLOCK, "fill this in"),
        ({"amount": "a lot"}, ids.LOG_DEAL_AMOUNT_BLOCK, "48000"),
        ({"rep": BOT_USER}, ids.LOG_DEAL_REP_BLOCK, "not an app"),
        ({"rep": None}, ids.LOG_DEAL_REP_BLOCK, "fill this in"),
    ],
)
def test_bad_answers_are_field_errors_and_nothing_is_logged(
    bot: RunningBot, answers: dict[str, Any], block: str, words: str
) -> None:
    bot.standin.add_user(BOT_USER, name="somebot", is_bot=True)
    bot.send(bot.slack.global_shortcut(ids.LOG_DEAL_GLOBAL_SHORTCUT, user=REP))
    fields = {"outcome": "lost", "account": "Globex", "amount": None, "rep": REP, **answers}
    answer = submit(bot, last_modal(bot), **fields).json()
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [block] and words in answer["errors"][block]
    assert deals(bot) == [] and deal_dms(bot, REP) == []


def test_a_closed_modal_does_not_lose_the_deal(bot: RunningBot) -> None:
    view = open_on(bot, "Closed won: Acme")
    bot.standin.fail_next("views.update", error="not_found")
    submit(bot, view, outcome="won", account="Acme", rep=REP2)
    assert len(deals(bot)) == 1 and len(deal_dms(bot, REP2)) == 1


def test_submitting_the_form_twice_is_one_deal_and_one_dm(bot: RunningBot) -> None:
    view = open_on(bot, f"Closed won: Acme <@{REP2}>")
    submit(bot, view, outcome="won", account="Acme", rep=REP2)
    submit(bot, view, outcome="won", account="Acme", rep=REP2)  # a double click on "Log it"
    assert len(deals(bot)) == 1 and len(deal_dms(bot, REP2)) == 1
    assert "already" in result_text(bot)


@pytest.mark.parametrize(
    ("user", "words"),
    [
        (REP, "Logged *Globex* as lost"),
        (REP2, "He registrado *Globex* como oportunidad perdida"),
        ("U0FRANC", "J'ai enregistré l'affaire *Globex*\u00a0: perdue"),
    ],
)
def test_the_result_is_in_the_loggers_language(bot: RunningBot, user: str, words: str) -> None:
    bot.standin.add_user("U0FRANC", name="franc", locale="fr-FR")
    bot.send(bot.slack.global_shortcut(ids.LOG_DEAL_GLOBAL_SHORTCUT, user=user))
    submit(bot, last_modal(bot), by=user, outcome="lost", account="Globex", rep=MANAGER)
    assert words in result_text(bot)
