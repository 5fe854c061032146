"""The deal listeners are module-level functions that find the runtime in Bolt's context,
so they can be called directly, without a signed request; and the intake's transactions
are storage functions a test can run in its own unit of work. What they decide is read
back from what the caller would see (the ack's field errors) and what is stored."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.slack import ids
from handlers.common import RT
from handlers.deals import is_correction, is_deal_candidate, on_handoff
from handlers.loop_command import reader_texts
from storage.deals import NewDeal, get_deal
from storage.intake import NEW, REPEAT, Correction, FollowUps, correct, take_in
from tests.conftest import DEALS, OTHER, REP, REP2, RunningBot

FOLLOW_UPS = FollowUps(reminder_days=3, loss_streak_at=3)
# The event callback around a message: the matchers read its workspace from it.
BODY = {"team_id": "T0001"}


def _context(bot: RunningBot) -> dict[str, Any]:
    return {RT: bot.rt}


def _new(account: str = "Initech", outcome: str = "lost", ts: str = "1700000000.000100") -> NewDeal:
    return NewDeal(
        team_id="T0001",
        account=account,
        outcome=outcome,
        rep_slack_id=REP,
        source="channel",
        source_channel=DEALS,
        source_ts=ts,
    )


def test_the_deals_channel_matchers_read_the_runtime_from_the_context(bot: RunningBot) -> None:
    context = _context(bot)
    post = {"type": "message", "channel": DEALS, "user": REP, "ts": "1.1", "text": "Closed won"}
    assert bot.run(is_deal_candidate(post, BODY, context)) is True
    assert bot.run(is_deal_candidate({**post, "channel": OTHER}, BODY, context)) is False
    # A reply in a thread is chatter about a deal, an edit is a correction, not a new deal.
    assert bot.run(is_deal_candidate({**post, "thread_ts": "1.0"}, BODY, context)) is False
    edit = {**post, "subtype": "message_changed"}
    assert bot.run(is_deal_candidate(edit, BODY, context)) is False
    assert bot.run(is_correction(edit, BODY, context)) is True
    assert bot.run(is_correction({**edit, "channel": OTHER}, BODY, context)) is False


def _handoff_body(deal_id: int, user: str, chosen: str) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T0001"},
        "user": {"id": user},
        "view": {
            "callback_id": ids.DEAL_HANDOFF_VIEW,
            "private_metadata": json.dumps({"deal": deal_id}),
            "state": {
                "values": {
                    ids.DEAL_HANDOFF_BLOCK: {
                        ids.DEAL_FIELD: {"type": "users_select", "selected_user": chosen}
                    }
                }
            },
        },
    }


class Ack:
    """What Bolt's ack would send back to Slack."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def test_the_handoff_listener_called_directly_refuses_what_it_must(bot: RunningBot) -> None:
    got = bot.rt.tx_blocking(
        take_in,
        new=_new(),
        event_id=None,
        ask_other_outcome=False,
        now=bot.rt.clock.now(),
        follow_ups=FOLLOW_UPS,
    )
    assert got.status == NEW and got.deal_id is not None
    cases = [
        (99999, REP, REP2, "errors.deal_gone"),  # a forged or deleted deal
        (got.deal_id, REP2, REP2, "intake.not_yours"),  # someone else's deal (in Spanish)
        (got.deal_id, REP, REP, "intake.handoff_self"),  # handed to whoever has it
    ]
    for deal_id, user, chosen, key in cases:
        said = bot.run(reader_texts(bot.rt, "T0001", user))(key)
        ack = Ack()
        bot.run(on_handoff(ack, _handoff_body(deal_id, user, chosen), _context(bot)))
        assert len(ack.calls) == 1
        errors = ack.calls[0].get("errors") or {}
        assert ack.calls[0].get("response_action") == "errors", (deal_id, user, ack.calls)
        assert errors == {ids.DEAL_HANDOFF_BLOCK: said}
    bot.idle()
    # Nothing was handed over.
    deal = bot.rt.tx_blocking(get_deal, write=False, deal_id=got.deal_id)
    assert deal is not None and deal.rep_slack_id == REP and deal.revision == 0


def test_an_edit_corrects_only_soon_after_the_post(bot: RunningBot, clock: FakeClock) -> None:
    rt = bot.rt

    def take(new: NewDeal) -> Any:
        return rt.tx_blocking(
            take_in,
            new=new,
            event_id=None,
            ask_other_outcome=False,
            now=clock.now(),
            follow_ups=FOLLOW_UPS,
        )

    first = take(_new())
    again = take(_new(ts="1700000000.000200"))
    assert (first.status, again.status, again.deal_id) == (NEW, REPEAT, first.deal_id)
    fix = Correction(outcome="won", gate="edit")
    done = rt.tx_blocking(
        correct, deal_id=first.deal_id, fix=fix, now=clock.now(), follow_ups=FOLLOW_UPS
    )
    assert done is not None and done.changed and done.deal.outcome == "won"
    clock.advance(timedelta(minutes=16))
    late = Correction(outcome="lost", gate="edit")
    assert (
        rt.tx_blocking(
            correct, deal_id=first.deal_id, fix=late, now=clock.now(), follow_ups=FOLLOW_UPS
        )
        is None
    )
    deal = rt.tx_blocking(get_deal, write=False, deal_id=first.deal_id)
    assert deal is not None and deal.outcome == "won" and deal.revision == 1
