"""Clicks are idempotent: the same click twice has one effect, and the clicked message
shows the choice that was made."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.clock import FakeClock
from bot.devkit.requests import SlackRequest
from bot.devkit.standin import SlackStandIn
from storage.models import Nudge, RitualRun
from tests.conftest import MANAGER, REP, RunningBot, start_bot
from tests.support.debrief_steps import (
    close_deal,
    dm_messages,
    ephemeral_replies,
    find_message,
    runs,
    set_manager,
)


def cat(bot: RunningBot, key: str, **values: str) -> str:
    return bot.rt.catalog.text("en", key, **values)


def press(bot: RunningBot, action_id: str, user: str = REP, **kw: Any) -> SlackRequest:
    """A click on the latest DM holding `action_id`, not yet sent."""
    return bot.slack.block_action(
        action_id,
        user=user,
        channel=bot.standin.dm_channel(user),
        message=find_message(bot, user, action_id),
        **kw,
    )


def replies_saying(bot: RunningBot, user: str, text: str) -> list[dict[str, Any]]:
    return [m for m in dm_messages(bot, user) if text in json.dumps(m, ensure_ascii=False)]


def test_a_hundred_identical_heard_clicks_post_one_reply(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    request = press(bot, "loss_mode_heard")
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: bot.post(request).status, range(100)))
    bot.idle()
    assert statuses == [200] * 100
    heard = cat(bot, "mode.heard", account="Globex")
    assert len(replies_saying(bot, REP, heard)) == 1
    assert len(dm_messages(bot, REP)) == 2  # the deal DM and one reply


def test_a_double_click_posts_one_reply_and_the_message_shows_the_choice(
    bot: RunningBot,
) -> None:
    close_deal(bot, "lost", "Globex", REP)
    first, second = press(bot, "loss_mode_heard"), press(bot, "loss_mode_heard")
    assert first.body != second.body  # two real clicks: different action_ts
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(lambda r: bot.post(r).status, [first, second])) == [200, 200]
    bot.idle()
    assert len(dm_messages(bot, REP)) == 2
    deal_dm = dm_messages(bot, REP)[0]
    # The buttons made their choice: Heard is gone, the other two stay to change it.
    assert "loss_mode_heard" not in json.dumps(deal_dm["blocks"])
    assert "loss_mode_helped" in json.dumps(deal_dm["blocks"])
    chosen = cat(bot, "clicks.chosen", choice=f"*{cat(bot, 'loss.button_heard')}*")
    assert chosen in json.dumps(deal_dm, ensure_ascii=False)
    [run] = runs(bot, "loss_debrief")
    assert run.data["mode"] == "heard"


def test_changing_ones_mind_is_a_new_answer(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    bot.send(press(bot, "loss_mode_heard"))
    hugged = press(bot, "loss_mode_hugged")
    again = press(bot, "loss_mode_hugged")  # the same copy of the DM: a double click
    bot.send(hugged)
    bot.send(again)
    assert len(dm_messages(bot, REP)) == 3
    [run] = runs(bot, "loss_debrief")
    assert run.data["mode"] == "hugged"
    chosen = [b for b in dm_messages(bot, REP)[0]["blocks"] if b.get("block_id") == "clicks_choice"]
    assert len(chosen) == 1  # the line moved on, it did not pile up


def test_a_second_ask_my_manager_says_it_is_already_with_them(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    first, second = press(bot, "manager_call_request"), press(bot, "manager_call_request")
    bot.send(first)
    bot.send(second)  # the same copy: the button is gone from the DM after the first
    assert len(dm_messages(bot, MANAGER)) == 1
    replies = ephemeral_replies(bot)
    assert replies[0] == cat(bot, "manager.asked", manager=f"<@{MANAGER}>", account="Globex")
    assert replies[1] == cat(bot, "call.already_open", caller=f"<@{MANAGER}>", account="Globex")
    assert len(runs(bot, "manager_call")) == 1


def test_a_double_clicked_tee_up_answer_records_one_answer(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("tee-up Acme Corp", user=REP))
    first, second = press(bot, "teeup_not_asked"), press(bot, "teeup_not_asked")
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(bot.post, [first, second]))
    bot.idle()
    assert len(runs(bot, "tee_up")) == 1
    with Session(bot.rt.engine) as s:
        followups = s.exec(
            select(Nudge).where(col(Nudge.idempotency_key).like("tee_up:followup:%"))
        ).all()
    assert len(followups) == 1
    [dm] = dm_messages(bot, REP)
    assert "teeup_not_asked" not in json.dumps(dm["blocks"])  # answered: the buttons are gone


def test_a_double_clicked_concern_answer_is_one_answer(bot: RunningBot, clock: FakeClock) -> None:
    bot.send(bot.slack.slash_command("concern Acme Corp — payload limits", user=REP))
    clock.advance(timedelta(hours=48))
    bot.tick()
    first, second = press(bot, "concern_satisfied"), press(bot, "concern_satisfied")
    bot.send(first)
    bot.send(second)
    with Session(bot.rt.engine) as s:
        [run] = s.exec(select(RitualRun).where(RitualRun.ritual == "concern")).all()
    assert [a["answer"] for a in run.data["asks"]] == ["satisfied"]
    assert ephemeral_replies(bot)[1:] == []  # no "not open" for the second click
    checkin = [m for m in dm_messages(bot, REP) if "satisfy" in json.dumps(m)]
    assert len(checkin) == 1
    assert "concern_satisfied" not in json.dumps(checkin[0]["blocks"])


@pytest.fixture
def any_db_bot(standin: SlackStandIn, clock: FakeClock, db_url: str) -> Iterator[RunningBot]:
    """The bot on SQLite and (postgres-marked) PostgreSQL, where the claim's row lock is
    what keeps two simultaneous clicks from both winning."""
    running, stop = start_bot(standin, clock, db_url)
    yield running
    stop()


def test_simultaneous_clicks_on_one_choice_claim_it_once(any_db_bot: RunningBot) -> None:
    bot = any_db_bot
    close_deal(bot, "lost", "Globex", REP)
    clicks = [press(bot, "loss_mode_helped") for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(lambda r: bot.post(r).status, clicks)) == [200] * 6
    bot.idle()
    helped = cat(bot, "mode.helped", account="Globex").splitlines()[0]
    assert len(replies_saying(bot, REP, helped)) == 1
    [run] = runs(bot, "loss_debrief")
    assert run.data["mode"] == "helped"
