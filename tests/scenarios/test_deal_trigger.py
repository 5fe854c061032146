"""A deal closes in Slack -> the rep gets the right script by DM, exactly once.

Every test drives the running bot over HTTP with requests signed like Slack's and
reads what it sent from the local Slack stand-in."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.devkit.standin import check_message_blocks
from storage.models import Deal, Nudge
from tests.conftest import DEALS, MANAGER, OTHER, REP, REP2, RunningBot


def dm_channels(bot: RunningBot) -> dict[str, str]:
    """user id -> the DM channel the stand-in opened for them."""
    out: dict[str, str] = {}
    for call in bot.standin.calls_to("conversations.open"):
        if call.response.get("ok"):
            out[call.response["channel"]["id"]] = str(call.body.get("users"))
    return out


def dms(bot: RunningBot) -> list[tuple[str, dict[str, Any]]]:
    """(recipient user id, chat.postMessage body) for every DM that Slack accepted."""
    channels = dm_channels(bot)
    return [
        (channels.get(str(c.body.get("channel")), str(c.body.get("channel"))), c.body)
        for c in bot.standin.calls_to("chat.postMessage")
        if c.response.get("ok")
    ]


def deals(bot: RunningBot) -> list[Deal]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Deal)).all())


def action_ids(body: dict[str, Any]) -> set[str]:
    return {
        el["action_id"]
        for block in body.get("blocks", [])
        if block["type"] == "actions"
        for el in block["elements"]
    }


def person_post(bot: RunningBot, text: str, *, user: str = MANAGER, channel: str = DEALS) -> Any:
    return bot.slack.event_request(bot.slack.message_event(text, channel=channel, user=user))


def salesforce_post(bot: RunningBot, stage: str, owner_email: str) -> Any:
    """Shape (a): a modern app bot, no subtype, blocks and attachment fields."""
    event = bot.slack.message_event(
        f"Opportunity *Initech – Renewal* moved to {stage}",
        channel=DEALS,
        user="U0SFDCBOT",
        bot_id="B0SFDC",
        blocks=[
            {
                "type": "section",
                "block_id": "x1",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*Initech – Renewal*\nStage: {stage}\nAmount: $50,000\n"
                    f"Owner: {owner_email}",
                },
            }
        ],
        attachments=[
            {
                "id": 1,
                "color": "00A1E0",
                "fallback": "Opportunity updated",
                "title": "Initech – Renewal",
                "title_link": "https://acme.my.salesforce.com/006000000000001",
                "fields": [
                    {"title": "Stage", "value": stage, "short": True},
                    {"title": "Amount", "value": "$50,000", "short": True},
                ],
            }
        ],
        bot_profile={"id": "B0SFDC", "name": "Salesforce", "app_id": "A0SFDC"},
    )
    return bot.slack.event_request(event)


def hubspot_post(bot: RunningBot, stage_value: str, owner_email: str) -> Any:
    """Shape (b): a legacy bot_message with only attachments, no user."""
    event = bot.slack.message_event(
        "",
        channel=DEALS,
        user=None,
        subtype="bot_message",
        bot_id="B0HUBSPOT",
        username="HubSpot",
        attachments=[
            {
                "fallback": "Deal updated: Hooli",
                "pretext": "Deal stage changed",
                "title": "Hooli",
                "title_link": "https://app.hubspot.com/x",
                "fields": [
                    {"title": "Deal stage", "value": stage_value, "short": True},
                    {"title": "Deal owner", "value": owner_email, "short": True},
                    {"title": "Amount", "value": "12000", "short": True},
                ],
            }
        ],
    )
    return bot.slack.event_request(event)


OUTCOMES = {
    "won": ("Closed Won", "closedwon", "win_log_open"),
    "lost": ("Closed Lost", "closedlost", "loss_mode_heard"),
    "no_decision": ("Closed - No Decision", "No decision", "loss_mode_heard"),
}


@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_person_message_in_deals_channel_dms_the_mentioned_rep_once(
    bot: RunningBot, outcome: str
) -> None:
    stage = OUTCOMES[outcome][0]
    resp = bot.send(person_post(bot, f"{stage}: Globex ($42k) - great work <@{REP}>!"))
    assert resp.status == 200
    sent = dms(bot)
    assert [who for who, _ in sent] == [REP]
    body = sent[0][1]
    assert check_message_blocks(body["blocks"]) == []
    assert "Globex" in body["text"]
    assert OUTCOMES[outcome][2] in action_ids(body)
    [deal] = deals(bot)
    assert (deal.outcome, deal.account, deal.rep_slack_id) == (outcome, "Globex", REP)


@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_crm_posts_dm_the_owner_found_by_email(bot: RunningBot, outcome: str) -> None:
    stage, hubspot_value, action = OUTCOMES[outcome]
    bot.send(salesforce_post(bot, stage, "rita@acme.test"))
    bot.send(hubspot_post(bot, hubspot_value, "sam@acme.test"))
    sent = dms(bot)
    assert sorted(who for who, _ in sent) == sorted([REP, REP2])
    for _, body in sent:
        assert check_message_blocks(body["blocks"]) == []
        assert action in action_ids(body)
    rows = {d.rep_slack_id: d for d in deals(bot)}
    assert rows[REP].account.startswith("Initech") and rows[REP].outcome == outcome
    assert rows[REP2].account == "Hooli" and rows[REP2].outcome == outcome
    assert len(bot.standin.calls_to("users.lookupByEmail")) == 2


def test_spanish_rep_gets_the_dm_in_spanish(bot: RunningBot) -> None:
    bot.send(person_post(bot, f"Closed Lost: Globex <@{REP2}>"))
    [(who, body)] = dms(bot)
    english = bot.rt.catalog.text("en", "loss.ask_mode")
    spanish = bot.rt.catalog.text("es", "loss.ask_mode")
    texts = [b["text"]["text"] for b in body["blocks"] if "text" in b]
    assert who == REP2
    assert spanish in texts and english not in texts


def test_slack_retries_and_redelivery_never_send_a_second_dm(bot: RunningBot) -> None:
    envelope = bot.slack.envelope(
        bot.slack.message_event(
            f"We lost Globex to a competitor <@{REP}>", channel=DEALS, user=MANAGER
        )
    )
    assert bot.send(bot.slack.event_request(envelope)).status == 200
    for retry in (1, 2, 3):
        assert bot.send(bot.slack.event_request(envelope, retry_num=retry)).status == 200
    # The same message again, under a new event id (Slack may redeliver that way).
    again = dict(envelope, event_id="EvREDELIVERED1")
    assert bot.send(bot.slack.event_request(again)).status == 200
    assert len(dms(bot)) == 1
    assert len(deals(bot)) == 1


def test_concurrent_deliveries_of_one_event_send_one_dm(bot: RunningBot) -> None:
    import threading

    envelope = bot.slack.envelope(
        bot.slack.message_event(f"Closed Won: Globex <@{REP}>", channel=DEALS, user=MANAGER)
    )
    requests = [bot.slack.event_request(envelope, retry_num=i or None) for i in range(4)]
    threads = [threading.Thread(target=bot.post, args=(r,)) for r in requests]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    bot.idle()
    assert len(dms(bot)) == 1


@pytest.mark.http_only
@pytest.mark.parametrize("how", ["unsigned", "bad_signature", "six_minutes_old", "wrong_secret"])
def test_requests_not_from_slack_get_401_and_change_nothing(bot: RunningBot, how: str) -> None:
    event = bot.slack.message_event(f"Closed Won: Globex <@{REP}>", channel=DEALS, user=MANAGER)
    if how == "six_minutes_old":
        req = bot.slack.event_request(event, timestamp=int(time.time()) - 360)
    elif how == "wrong_secret":
        req = bot.slack.event_request(event, secret="not-the-secret")
    else:
        req = bot.slack.event_request(event)
        if how == "unsigned":
            req.headers = {
                k: v for k, v in req.headers.items() if not k.lower().startswith("x-slack")
            }
        else:
            req.headers["X-Slack-Signature"] = "v0=" + "0" * 64
    assert bot.send(req).status == 401
    assert bot.standin.calls_to("chat.postMessage") == []
    assert deals(bot) == []
    command = bot.slack.slash_command("deal lost Globex", secret="not-the-secret")
    assert bot.send(command).status == 401
    assert deals(bot) == []


def test_messages_that_are_not_deals_send_nothing(bot: RunningBot) -> None:
    s = bot.slack
    not_deals = [
        s.message_event(
            "we lost the notes from the call, can someone resend?", channel=DEALS, user=REP
        ),
        s.message_event("lunch?", channel=DEALS, user=REP),
        # A real deal, but in a channel that is not a deals channel.
        s.message_event(f"Closed Won: Globex <@{REP}>", channel=OTHER, user=MANAGER),
        # An edit of a message into a deal.
        s.message_event(
            "",
            channel=DEALS,
            user=None,
            subtype="message_changed",
            message={
                "type": "message",
                "user": MANAGER,
                "ts": "1.0",
                "text": f"Closed Won: Globex <@{REP}>",
            },
        ),
        s.message_event("", channel=DEALS, user=None, subtype="message_deleted", deleted_ts="1.0"),
        # The bot's own post (Bolt drops it by bot id; we also check the user).
        s.message_event(
            f"Closed Won: Globex <@{REP}>", channel=DEALS, user="U0FEEDBOT", bot_id="B0FEEDBOT"
        ),
    ]
    for event in not_deals:
        assert bot.send(s.event_request(event)).status == 200
    assert bot.standin.calls_to("chat.postMessage") == []
    assert deals(bot) == []


def test_loop_help_lists_the_subcommands(bot: RunningBot) -> None:
    resp = bot.send(bot.slack.slash_command("help", user=REP))
    assert resp.status == 200
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    assert check_message_blocks(body["blocks"]) == []
    assert "/loop deal" in json.dumps(body["blocks"])
    empty = bot.send(bot.slack.slash_command("", user=REP)).json()
    assert empty["blocks"] == body["blocks"]


def test_loop_deal_logs_the_deal_and_dms_the_named_rep(bot: RunningBot) -> None:
    resp = bot.send(bot.slack.slash_command(f"deal lost Globex <@{REP2}|sam>", user=MANAGER))
    assert resp.status == 200
    [(who, body)] = dms(bot)
    assert who == REP2 and "loss_mode_heard" in action_ids(body)
    [deal] = deals(bot)
    assert (deal.account, deal.outcome, deal.rep_slack_id, deal.source) == (
        "Globex",
        "lost",
        REP2,
        "command",
    )
    [confirmation] = bot.standin.calls_to("response_url")
    assert confirmation.body["response_type"] == "ephemeral"
    assert "Globex" in confirmation.body["text"]


def test_loop_deal_without_a_rep_is_for_the_caller(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("deal won Acme Corp", user=REP))
    [(who, body)] = dms(bot)
    assert who == REP and "win_log_open" in action_ids(body)
    assert deals(bot)[0].account == "Acme Corp"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("nonsense", "/loop help"),
        ("deal", "/loop deal won|lost|no-decision"),
        ("deal maybe Globex", "maybe"),
        ("deal won", "/loop deal won|lost|no-decision"),
    ],
)
def test_wrong_commands_get_an_ephemeral_error_saying_what_to_type(
    bot: RunningBot, text: str, expected: str
) -> None:
    resp = bot.send(bot.slack.slash_command(text, user=REP))
    assert resp.status == 200
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    assert expected in body["text"]
    if text == "nonsense":
        assert "`deal`" in body["text"] and "`help`" in body["text"]
    assert deals(bot) == [] and dms(bot) == []


def test_rate_limited_post_is_retried_after_retry_after_and_sent_once(bot: RunningBot) -> None:
    bot.standin.fail_next("chat.postMessage", status=429, retry_after=1)
    bot.send(person_post(bot, f"Closed Lost: Globex <@{REP}>"))
    posts = bot.standin.calls_to("chat.postMessage")
    assert [p.status for p in posts] == [429, 200]
    assert len(dms(bot)) == 1
    with Session(bot.rt.engine) as s:
        [nudge] = s.exec(select(Nudge).where(Nudge.kind == "deal_dm")).all()
    assert nudge.state == "sent" and nudge.sent_ts


def test_unreachable_rep_is_recorded_as_failed_not_retried(bot: RunningBot) -> None:
    bot.standin.fail_next("chat.postMessage", error="account_inactive")
    bot.send(person_post(bot, f"Closed Lost: Globex <@{REP}>"))
    with Session(bot.rt.engine) as s:
        [nudge] = s.exec(select(Nudge).where(Nudge.kind == "deal_dm")).all()
    assert (nudge.state, nudge.last_error) == ("failed", "account_inactive")
    assert bot.tick() == 0
    assert len(bot.standin.calls_to("chat.postMessage")) == 1


def test_healthz(bot: RunningBot) -> None:
    import urllib.request

    with urllib.request.urlopen(bot.url + "/healthz", timeout=5) as resp:
        assert resp.status == 200 and json.loads(resp.read()) == {"ok": True}


def test_loop_deal_for_a_paused_rep_says_the_dm_waits_for_them(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("pause", user=REP))
    bot.send(bot.slack.slash_command(f"deal lost Globex <@{REP}|rita>", user=MANAGER))
    assert dms(bot) == []
    replies = [c.body["text"] for c in bot.standin.calls_to("response_url")]
    assert any("quiet right now" in text and "Globex" in text for text in replies)
    bot.send(bot.slack.slash_command("resume", user=REP))
    bot.tick()
    assert [who for who, _ in dms(bot)] == [REP]


def test_a_new_spanish_rep_gets_help_in_spanish_from_their_first_command(
    bot: RunningBot,
) -> None:
    body = bot.send(bot.slack.slash_command("help", user=REP2)).json()
    assert body["text"].startswith(bot.rt.catalog.text("es", "help.header"))
    error = bot.send(bot.slack.slash_command("nonsense", user=REP2)).json()
    assert "/loop help" in error["text"]
    assert error["text"].startswith(
        bot.rt.catalog.text("es", "errors.unknown_subcommand", word="nonsense")[:12]
    )


def test_owner_lookup_that_fails_once_is_retried_and_the_dm_goes_out(bot: RunningBot) -> None:
    bot.standin.fail_next("users.lookupByEmail", status=503)
    bot.send(salesforce_post(bot, "Closed Lost", "rita@acme.test"))
    assert [who for who, _ in dms(bot)] == [REP]
    assert [c.status for c in bot.standin.calls_to("users.lookupByEmail")] == [503, 200]


def test_the_same_crm_record_announced_twice_is_one_deal(bot: RunningBot) -> None:
    bot.send(salesforce_post(bot, "Closed Won", "rita@acme.test"))
    bot.send(salesforce_post(bot, "Closed Won", "rita@acme.test"))
    assert len(dms(bot)) == 1 and len(deals(bot)) == 1


def test_a_deal_posted_without_an_account_is_named_in_the_spanish_reps_language(
    bot: RunningBot,
) -> None:
    bot.send(person_post(bot, f"Closed Lost <@{REP2}>"))
    unnamed = bot.rt.catalog.text("es", "deal.unnamed_account")
    [deal] = deals(bot)
    assert deal.account == unnamed and deal.rep_slack_id == REP2
    [(who, body)] = dms(bot)
    shown = json.dumps(body["blocks"], ensure_ascii=False)
    assert who == REP2 and unnamed in shown
    assert bot.rt.catalog.text("en", "deal.unnamed_account") not in shown


def test_a_deal_without_an_account_or_a_known_rep_falls_back_to_english(
    bot: RunningBot,
) -> None:
    """A rep Slack doesn't know (the lookup fails) must not lose the deal."""
    bot.send(person_post(bot, "Closed Won <@U0GHOST>"))
    [deal] = deals(bot)
    assert deal.account == bot.rt.catalog.text("en", "deal.unnamed_account")


def test_a_revoked_token_holds_the_dm_instead_of_failing_it(bot: RunningBot, clock: Any) -> None:
    from datetime import timedelta

    bot.standin.fail_next("chat.postMessage", error="token_revoked")
    bot.send(person_post(bot, f"Closed Lost: Globex <@{REP}>"))
    with Session(bot.rt.engine) as s:
        [nudge] = s.exec(select(Nudge).where(Nudge.kind == "deal_dm")).all()
    assert (nudge.state, nudge.last_error, nudge.attempts) == ("pending", "token_revoked", 0)
    clock.advance(timedelta(minutes=16))
    bot.tick()
    assert [who for who, _ in dms(bot)] == [REP]


def test_loop_deal_typed_twice_is_one_deal_and_one_dm(bot: RunningBot, clock: Any) -> None:
    from datetime import timedelta

    bot.send(bot.slack.slash_command(f"deal lost Globex <@{REP2}|sam>", user=MANAGER))
    bot.send(bot.slack.slash_command(f"deal lost globex <@{REP2}|sam>", user=MANAGER))
    assert len(deals(bot)) == 1 and len(dms(bot)) == 1
    replies = [c.body["text"] for c in bot.standin.calls_to("response_url")]
    assert "already logged" in replies[-1]
    # Within a day it is the same deal (the intake's window); a loss for the same
    # account a day later is a new deal.
    clock.advance(timedelta(hours=23))
    bot.send(bot.slack.slash_command(f"deal lost Globex <@{REP2}|sam>", user=MANAGER))
    assert len(deals(bot)) == 1
    clock.advance(timedelta(hours=2))
    bot.send(bot.slack.slash_command(f"deal lost Globex <@{REP2}|sam>", user=MANAGER))
    assert len(deals(bot)) == 2
