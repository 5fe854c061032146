"""The parser's new readings, end to end: a signed deals-channel event -> who gets a DM.

Each test posts through the running app and reads what it sent from the Slack stand-in:
an owner e-mail typed by a manager sends the DM to that owner (not to the manager),
Spanish and French CRM posts are deals, and quoted, questioned or threaded words are not."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from storage.models import Deal
from tests.conftest import DEALS, MANAGER, REP, REP2, RunningBot


def _dm_recipients(bot: RunningBot) -> list[str]:
    opened = {
        call.response["channel"]["id"]: str(call.body.get("users"))
        for call in bot.standin.calls_to("conversations.open")
        if call.response.get("ok")
    }
    return [
        opened.get(str(call.body.get("channel")), str(call.body.get("channel")))
        for call in bot.standin.calls_to("chat.postMessage")
        if call.response.get("ok")
    ]


def _deals(bot: RunningBot) -> list[Deal]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Deal)).all())


def _post(bot: RunningBot, text: str = "", *, user: str | None = MANAGER, **extra: Any) -> None:
    resp = bot.send(
        bot.slack.event_request(bot.slack.message_event(text, channel=DEALS, user=user, **extra))
    )
    assert resp.status == 200


def test_an_owner_email_typed_by_a_manager_sends_the_dm_to_the_owner(bot: RunningBot) -> None:
    _post(bot, "Closed won: Globex Corporation, $48,000. Owner: rita@acme.test")
    assert _dm_recipients(bot) == [REP]  # rita, looked up by e-mail; not the manager
    [deal] = _deals(bot)
    assert (deal.outcome, deal.account, deal.rep_slack_id) == ("won", "Globex Corporation", REP)
    assert [c.body.get("email") for c in bot.standin.calls_to("users.lookupByEmail")] == [
        "rita@acme.test"
    ]


def test_spanish_and_french_crm_posts_are_deals(bot: RunningBot) -> None:
    _post(
        bot,
        user=None,
        bot_id="B0SFDC",
        subtype="bot_message",
        username="Salesforce",
        attachments=[
            {
                "title": "Construcciones Ibarra",
                "fields": [
                    {"title": "Etapa", "value": "Cerrada ganada", "short": True},
                    {"title": "Propietario", "value": "rita@acme.test", "short": True},
                ],
            }
        ],
    )
    _post(
        bot,
        "Phase de la transaction : Fermé perdu",
        user=None,
        bot_id="B0HUBSPOT",
        subtype="bot_message",
        username="HubSpot",
        blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Cabinet Fournier*"}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Phase de la transaction*\nFermé perdu"},
                    {"type": "mrkdwn", "text": "*Propriétaire de la transaction*\nsam@acme.test"},
                ],
            },
        ],
    )
    assert sorted(_dm_recipients(bot)) == sorted([REP, REP2])
    rows = {d.rep_slack_id: (d.outcome, d.account) for d in _deals(bot)}
    assert rows == {REP: ("won", "Construcciones Ibarra"), REP2: ("lost", "Cabinet Fournier")}


def test_quoted_questioned_reopened_and_threaded_words_send_nothing(bot: RunningBot) -> None:
    _post(bot, f"> Closed won: Initech ($120k) <@{REP}>\nremember this one? renewal is next month")
    _post(bot, "Who owns the Gringotts renewal? It's marked closed won in HubSpot but no PO yet")
    _post(bot, "Closed Won :arrow_right: Negotiation", user=None, bot_id="B0ATTIO")
    _post(bot, f":tada: Closed won, amazing work <@{REP}>!", thread_ts="1700000000.000100")
    _post(bot, f"¡Ganamos el partido del viernes! <@{REP2}>")
    assert _dm_recipients(bot) == []
    assert _deals(bot) == []
