"""Tee it up: before the proposal, the rep is asked to agree a short debrief in case
it's a no; the answer is recorded, shows in the message, and reaches the debrief."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.devkit.standin import check_message_blocks
from bot.messages import Texts
from bot.messages.catalog import ScriptCatalog
from bot.messages.tee_up import answer_text, tee_up_dm
from storage.accounts import teeup_agreement
from storage.models import Nudge, RitualRun
from tests.conftest import DEALS, MANAGER, REP, REP2, RunningBot


def dm_messages(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    return bot.standin.messages(bot.standin.dm_channel(user))


def action_ids(message: dict[str, Any]) -> list[str]:
    return [
        el["action_id"]
        for block in message.get("blocks", [])
        if block["type"] == "actions"
        for el in block["elements"]
    ]


def click(bot: RunningBot, action_id: str, *, user: str = REP) -> None:
    [message] = dm_messages(bot, user)
    channel = bot.standin.dm_channel(user)
    resp = bot.send(bot.slack.block_action(action_id, user=user, channel=channel, message=message))
    assert resp.status == 200


def tee_up_nudges(bot: RunningBot) -> list[tuple[str, str]]:
    """(state, idempotency key) of every tee-up nudge; other rituals' nudges (reflections,
    digests) may fall due while a test moves the clock on."""
    with Session(bot.rt.engine) as s:
        rows = s.exec(select(Nudge).where(Nudge.kind == "tee_up").order_by(Nudge.id)).all()
        return [(n.state, n.idempotency_key) for n in rows]


def tee_up_dms(bot: RunningBot, user: str = REP) -> list[dict[str, Any]]:
    # The notification text is teeup.fallback: "Before the {account} proposal goes out: …"
    return [m for m in dm_messages(bot, user) if m["text"].startswith("Before the ")]


def tee_up_runs(bot: RunningBot) -> list[RitualRun]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(RitualRun).where(RitualRun.ritual == "tee_up")).all())


def test_tee_up_command_dms_the_ask_with_three_answer_buttons(bot: RunningBot) -> None:
    resp = bot.send(bot.slack.slash_command("tee-up Acme Corp", user=REP))
    body = resp.json()
    assert body["response_type"] == "ephemeral" and "Acme Corp" in body["text"]
    [message] = dm_messages(bot, REP)
    assert check_message_blocks(message["blocks"]) == []
    assert bot.rt.catalog.text("en", "teeup.script") in str(message["blocks"])
    assert action_ids(message) == ["teeup_agreed", "teeup_not_asked", "teeup_declined"]
    with Session(bot.rt.engine) as s:
        [nudge] = s.exec(select(Nudge)).all()
    assert (nudge.kind, nudge.state, nudge.payload["account"]) == ("tee_up", "sent", "Acme Corp")


def test_tee_up_without_an_account_says_what_to_type(bot: RunningBot) -> None:
    body = bot.send(bot.slack.slash_command("tee-up", user=REP)).json()
    assert body["response_type"] == "ephemeral"
    assert "/loop tee-up <account>" in body["text"]
    assert bot.standin.calls_to("chat.postMessage") == []


def test_agreed_is_recorded_and_replaces_the_buttons(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("tee-up Acme Corp", user=REP))
    click(bot, "teeup_agreed")
    [run] = tee_up_runs(bot)
    assert (run.user_slack_id, run.account, run.state, run.data["agreed"]) == (
        REP,
        "Acme Corp",
        "agreed",
        True,
    )
    [update] = bot.standin.calls_to("chat.update")
    assert update.response["ok"]
    [message] = dm_messages(bot, REP)
    assert action_ids(message) == []
    assert "Teed up" in str(message["blocks"])
    with Session(bot.rt.engine) as s:
        found = teeup_agreement(s, "T0001", "acme corp ")
        assert found is not None and found.id == run.id


def test_agreement_sends_nothing_more_until_the_deal_closes(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("tee-up Acme Corp", user=REP))
    click(bot, "teeup_agreed")
    for _ in range(4):
        bot.rt.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
        bot.tick()
    assert [state for state, _key in tee_up_nudges(bot)] == ["sent"]
    assert len(tee_up_dms(bot)) == 1


def test_declined_is_recorded_and_withdraws_an_earlier_agreement(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("tee-up Acme Corp", user=REP))
    click(bot, "teeup_agreed")
    bot.rt.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    bot.send(bot.slack.slash_command("tee-up Acme Corp", user=REP))
    latest = dm_messages(bot, REP)[-1]
    channel = bot.standin.dm_channel(REP)
    bot.send(bot.slack.block_action("teeup_declined", user=REP, channel=channel, message=latest))
    states = sorted((r.state, r.data["agreed"]) for r in tee_up_runs(bot))
    assert states == [("agreed", True), ("declined", False)]
    with Session(bot.rt.engine) as s:
        assert teeup_agreement(s, "T0001", "Acme Corp") is None


def test_not_asked_yet_brings_the_ask_back_in_two_days(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("tee-up Globex", user=REP))
    click(bot, "teeup_not_asked")
    [run] = tee_up_runs(bot)
    assert (run.state, run.data["agreed"]) == ("not_asked", False)
    bot.rt.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    bot.tick()
    assert len(tee_up_dms(bot)) == 1
    bot.rt.clock.advance(timedelta(days=1, minutes=1))  # type: ignore[attr-defined]
    bot.tick()
    messages = tee_up_dms(bot)
    assert len(messages) == 2 and "teeup_agreed" in action_ids(messages[-1])
    assert tee_up_nudges(bot)[-1] == ("sent", f"tee_up:followup:{run.data['nudge_id']}")


def test_follow_up_is_skipped_when_the_rep_answered_in_between(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("tee-up Globex", user=REP))
    click(bot, "teeup_not_asked")
    # Teed up again by hand before the follow-up fell due, and this time they agreed.
    bot.send(bot.slack.slash_command("tee-up Globex", user=REP))
    latest = dm_messages(bot, REP)[-1]
    channel = bot.standin.dm_channel(REP)
    bot.send(bot.slack.block_action("teeup_agreed", user=REP, channel=channel, message=latest))
    bot.rt.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    bot.tick()
    assert len(tee_up_dms(bot)) == 2
    assert [state for state, _key in tee_up_nudges(bot)] == ["sent", "skipped", "sent"]


def test_proposal_sent_in_deals_channel_dms_the_mentioned_rep_once(bot: RunningBot) -> None:
    envelope = bot.slack.envelope(
        bot.slack.message_event(f"Proposal sent to Initech <@{REP2}>", channel=DEALS, user=MANAGER)
    )
    assert bot.send(bot.slack.event_request(envelope)).status == 200
    assert bot.send(bot.slack.event_request(envelope, retry_num=1)).status == 200
    again = dict(envelope, event_id="EvREDELIVERED2")
    assert bot.send(bot.slack.event_request(again)).status == 200
    [message] = dm_messages(bot, REP2)
    assert check_message_blocks(message["blocks"]) == []
    # REP2's Slack locale is Spanish; the proposal is out, so the ask comes with
    # confirming they received it.
    header = bot.rt.catalog.text("es", "teeup.proposal_out.header", account="Initech")
    assert header in str(message["blocks"])
    assert "teeup_agreed" in action_ids(message)
    assert dm_messages(bot, MANAGER) == []


def test_proposal_posted_by_the_rep_themselves_goes_to_them(bot: RunningBot) -> None:
    event = bot.slack.message_event("Sent the proposal to Globex today", channel=DEALS, user=REP)
    bot.send(bot.slack.event_request(event))
    [message] = dm_messages(bot, REP)
    assert "Globex" in message["text"]


def test_the_agreement_shows_in_the_accounts_later_loss_debrief(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("tee-up Acme Corp", user=REP))
    click(bot, "teeup_agreed")
    bot.rt.clock.advance(timedelta(days=10))  # type: ignore[attr-defined]
    bot.send(bot.slack.slash_command("deal lost acme corp", user=REP))
    note = bot.rt.catalog.text("en", "teeup.debrief_note", account="acme corp")
    debrief = [m for m in dm_messages(bot, REP) if "acme corp" in m["text"]]
    assert debrief and note[:40] in str(debrief[0]["blocks"])


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_tee_up_dm_is_valid_block_kit_in_every_language(lang: str) -> None:
    t = Texts(ScriptCatalog.load(), lang)
    asked = tee_up_dm(t, account="Acme " * 60, nudge_id=3)
    assert check_message_blocks(asked.blocks) == [] and len(asked.text) <= 4000
    for state in ("agreed", "not_asked", "declined"):
        reply = answer_text(t, state, account="Acme", days=2)
        answered = tee_up_dm(t, account="Acme", nudge_id=3, answer=reply)
        assert check_message_blocks(answered.blocks) == []


def test_an_answer_whose_ask_was_deleted_says_so_and_what_to_type(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("tee-up Acme Corp", user=REP))
    with Session(bot.rt.engine) as s:
        for nudge in s.exec(select(Nudge)).all():
            s.delete(nudge)
        s.commit()
    click(bot, "teeup_agreed")
    [reply] = bot.standin.calls_to("response_url")
    assert reply.body["response_type"] == "ephemeral"
    assert reply.body["text"] == bot.rt.catalog.text("en", "teeup.gone")
    assert "/loop tee-up <account>" in reply.body["text"]
    assert tee_up_runs(bot) == []
    assert bot.standin.calls_to("chat.update") == []


def test_a_deleted_ask_is_explained_in_the_reps_language(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("tee-up Acme Corp", user=REP2))
    with Session(bot.rt.engine) as s:
        for nudge in s.exec(select(Nudge)).all():
            s.delete(nudge)
        s.commit()
    click(bot, "teeup_declined", user=REP2)
    [reply] = bot.standin.calls_to("response_url")
    assert reply.body["text"] == bot.rt.catalog.text("es", "teeup.gone")
