"""Concern check-ins: `/loop concern <account> — <concern>` opens a loop, the rep is asked
"Was that enough to satisfy your concern?" after the delay, and the loop stays open until
it is closed or dropped. Time moves only when a test moves the fake clock."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.clock import FakeClock
from bot.devkit.requests import plain_text_value
from handlers.concern import parse_concern
from storage.models import Deal, Nudge, RitualRun
from tests.conftest import REP, REP2, RunningBot
from tests.support.bundles import click_section, sections

DELAY = timedelta(hours=48)


def concern(bot: RunningBot, text: str, *, user: str = REP) -> dict[str, Any]:
    """Run `/loop concern <text>`; the ack's JSON (empty when answered later)."""
    resp = bot.send(bot.slack.slash_command(f"concern {text}", user=user))
    assert resp.status == 200
    return resp.json() if resp.body else {}


def later_replies(bot: RunningBot) -> list[str]:
    return [str(c.body.get("text")) for c in bot.standin.calls_to("response_url")]


def loops(bot: RunningBot) -> list[RitualRun]:
    with Session(bot.rt.engine) as s:
        query = select(RitualRun).where(RitualRun.ritual == "concern").order_by(col(RitualRun.id))
        return list(s.exec(query).all())


def checkin_nudges(bot: RunningBot) -> list[Nudge]:
    with Session(bot.rt.engine) as s:
        query = select(Nudge).where(Nudge.kind == "concern_checkin").order_by(col(Nudge.id))
        return list(s.exec(query).all())


def checkins(bot: RunningBot, user: str = REP) -> list[dict[str, Any]]:
    """Check-in DMs as they stand now (after any update)."""
    return [
        m
        for m in bot.standin.messages(bot.standin.dm_channel(user))
        if "satisfy your concern" in json.dumps(m) or "suficiente" in json.dumps(m)
    ]


def click(bot: RunningBot, action_id: str, message: dict[str, Any], user: str = REP) -> None:
    bot.send(
        bot.slack.block_action(
            action_id, user=user, message=message, channel=bot.standin.dm_channel(user)
        )
    )


def action_ids(message: dict[str, Any]) -> list[str]:
    return [
        el["action_id"]
        for block in message.get("blocks", [])
        if block["type"] == "actions"
        for el in block["elements"]
    ]


def test_check_in_fires_after_its_delay_not_before(bot: RunningBot, clock: FakeClock) -> None:
    concern(bot, "Acme Corp — worried about the rollout timeline")
    assert "worried about the rollout timeline" in later_replies(bot)[-1]
    assert "November 25, 2026" in later_replies(bot)[-1]  # the check-in date, in the rep's zone
    bot.tick()
    clock.advance(DELAY - timedelta(minutes=1))
    bot.tick()
    assert checkins(bot) == []

    clock.advance(timedelta(minutes=1))
    bot.tick()
    [dm] = checkins(bot)
    assert "Acme Corp" in dm["text"]
    assert "worried about the rollout timeline" in json.dumps(dm["blocks"])
    assert action_ids(dm) == [
        "concern_satisfied",
        "concern_not_yet",
        "concern_didnt_ask",
        "concern_drop",
    ]
    bot.tick()
    assert len(checkins(bot)) == 1


def test_not_yet_reschedules_with_the_looping_tip(bot: RunningBot, clock: FakeClock) -> None:
    concern(bot, "Acme Corp — price is above budget")
    clock.advance(DELAY)
    bot.tick()
    [dm] = checkins(bot)

    click(bot, "concern_not_yet", dm)
    [updated] = bot.standin.calls_to("chat.update")
    assert "Did I get that right?" in json.dumps(updated.body["blocks"])
    assert "concern_not_yet" not in json.dumps(updated.body["blocks"])  # answered: no buttons
    [run] = loops(bot)
    assert run.state == "open"
    assert [a["answer"] for a in run.data["asks"]] == ["not_yet"]

    clock.advance(DELAY - timedelta(minutes=1))
    bot.tick()
    assert len(checkins(bot)) == 1
    clock.advance(timedelta(minutes=1))
    bot.tick()
    assert len(checkins(bot)) == 2


def test_didnt_ask_reschedules_and_teaches_the_question(bot: RunningBot, clock: FakeClock) -> None:
    concern(bot, "Acme Corp — security review")
    clock.advance(DELAY)
    bot.tick()
    click(bot, "concern_didnt_ask", checkins(bot)[0])
    [updated] = bot.standin.calls_to("chat.update")
    blocks = json.dumps(updated.body["blocks"])
    assert "Was that enough to satisfy your concern?" in blocks
    assert "Did I get that right?" in blocks
    clock.advance(DELAY)
    bot.tick()
    assert len(checkins(bot)) == 2 and loops(bot)[0].state == "open"


def test_a_double_click_reschedules_once(bot: RunningBot, clock: FakeClock) -> None:
    concern(bot, "Acme Corp — security review")
    clock.advance(DELAY)
    bot.tick()
    dm = checkins(bot)[0]
    click(bot, "concern_not_yet", dm)
    click(bot, "concern_not_yet", dm)
    # Check-in 1, its second ask (not needed once answered), check-in 2.
    assert [n.state for n in checkin_nudges(bot)] == ["sent", "cancelled", "pending"]
    assert len(loops(bot)[0].data["asks"]) == 1


def test_satisfied_closes_the_loop_and_updates_the_message(
    bot: RunningBot, clock: FakeClock
) -> None:
    concern(bot, "Acme Corp — onboarding effort")
    clock.advance(DELAY)
    bot.tick()
    click(bot, "concern_satisfied", checkins(bot)[0])

    [run] = loops(bot)
    assert run.state == "closed" and run.due_at is None
    [updated] = bot.standin.calls_to("chat.update")
    assert "Closed." in updated.body["text"]
    assert action_ids(checkins(bot)[0]) == []
    clock.advance(DELAY * 3)
    bot.tick()
    assert len(checkins(bot)) == 1


def test_drop_ends_the_loop_on_purpose(bot: RunningBot, clock: FakeClock) -> None:
    concern(bot, "Acme Corp — onboarding effort")
    clock.advance(DELAY)
    bot.tick()
    click(bot, "concern_drop", checkins(bot)[0])
    assert loops(bot)[0].state == "dropped"
    assert "Dropped on purpose" in bot.standin.calls_to("chat.update")[0].body["text"]


def test_concern_list_shows_exactly_the_open_ones(bot: RunningBot, clock: FakeClock) -> None:
    concern(bot, "Acme Corp — rollout timeline")
    concern(bot, "Globex — price")
    concern(bot, "Initech — data residency")
    concern(bot, "Hooli — their own loop", user=REP2)
    clock.advance(DELAY)
    bot.tick()
    # Due together: one DM, a section per concern (the noise budget).
    [bundle] = checkins(bot)
    acme, globex, _initech = sections(bundle)
    click_section(bot, REP, bundle, acme, "concern_satisfied")
    click_section(bot, REP, checkins(bot)[0], globex, "concern_drop")

    body = concern(bot, "list")
    assert body["response_type"] == "ephemeral"
    shown = json.dumps(body["blocks"])
    assert "Initech" in shown and "data residency" in shown
    assert "Acme" not in shown and "Globex" not in shown and "Hooli" not in shown
    # Opened on the 23rd, asked on the 25th, not answered: asked once more on the 27th.
    assert "November 23, 2026" in shown and "Next check-in: November 27, 2026" in shown
    assert "concern_list_close" in shown and "concern_list_drop" in shown


def test_closing_from_the_list_refreshes_it(bot: RunningBot) -> None:
    concern(bot, "Acme Corp — rollout timeline")
    concern(bot, "Globex — price")
    listing = concern(bot, "list")
    message = {"type": "message", "ts": "1.0", "text": listing["text"], "blocks": listing["blocks"]}
    acme = loops(bot)[0]
    bot.send(
        bot.slack.block_action(
            "concern_list_close",
            value=str(acme.id),
            message=message,
            channel=bot.standin.dm_channel(REP),
            is_ephemeral=True,
        )
    )
    [reply] = bot.standin.calls_to("response_url")[-1:]
    assert reply.body["replace_original"] is True
    assert "Globex" in json.dumps(reply.body["blocks"])
    assert "Closed." in json.dumps(reply.body["blocks"])
    assert [r.state for r in loops(bot)] == ["closed", "open"]
    assert [n.state for n in checkin_nudges(bot)] == ["cancelled", "pending"]


def test_empty_list_says_how_to_add_one(bot: RunningBot) -> None:
    body = concern(bot, "list")
    assert "No open concerns" in body["text"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Type `/loop concern <account> — <concern>`"),
        ("Acme Corp", "What's the concern?"),
        ("Acme Corp —", "What's the concern?"),
        ("— only a concern", "Type `/loop concern <account> — <concern>`"),
    ],
)
def test_missing_parts_get_usage_saying_what_to_type(
    bot: RunningBot, text: str, expected: str
) -> None:
    body = concern(bot, text)
    assert body["response_type"] == "ephemeral" and expected in body["text"]
    assert loops(bot) == []


@pytest.mark.parametrize(
    ("args", "account", "text"),
    [
        ("Acme Corp — timeline", "Acme Corp", "timeline"),
        ("Acme Corp – timeline", "Acme Corp", "timeline"),
        ("Acme Corp - timeline", "Acme Corp", "timeline"),
        ("Acme Corp: timeline", "Acme Corp", "timeline"),
        ("Coca-Cola - price per seat", "Coca-Cola", "price per seat"),
        ("AT&amp;T — the SLA", "AT&T", "the SLA"),
        ("Acme Corp", "Acme Corp", ""),
    ],
)
def test_account_and_concern_separators(args: str, account: str, text: str) -> None:
    assert parse_concern(args) == (account, text)


def test_check_in_is_in_the_reps_language(bot: RunningBot, clock: FakeClock) -> None:
    concern(bot, "Hooli — el plazo", user=REP2)
    assert "Te pregunto" in later_replies(bot)[-1]
    clock.advance(DELAY)
    bot.tick()
    [dm] = checkins(bot, REP2)
    asked = bot.rt.catalog.text("es-ES", "concern.checkin", account="Hooli", concern="el plazo")
    assert asked.split("\n")[-1] in json.dumps(dm, ensure_ascii=False)


def test_no_check_in_while_paused_then_it_comes_on_resume(
    bot: RunningBot, clock: FakeClock
) -> None:
    concern(bot, "Acme Corp — rollout timeline")
    bot.send(bot.slack.slash_command("pause", user=REP))
    clock.advance(DELAY)
    bot.tick()
    clock.advance(timedelta(hours=5))
    bot.tick()
    assert checkins(bot) == []
    [nudge] = checkin_nudges(bot)
    assert nudge.state == "pending"

    bot.send(bot.slack.slash_command("resume", user=REP))
    bot.tick()
    assert len(checkins(bot)) == 1


def lost_deal(bot: RunningBot, account: str = "Globex") -> int:
    bot.send(bot.slack.slash_command(f"deal lost {account}", user=REP))
    with Session(bot.rt.engine) as s:
        deal = s.exec(select(Deal).where(Deal.account == account)).one()
    assert deal.id is not None
    return deal.id


def test_debrief_button_opens_a_modal_for_the_deals_account(
    bot: RunningBot, clock: FakeClock
) -> None:
    deal_id = lost_deal(bot)
    bot.send(bot.slack.block_action("concern_open", value=str(deal_id), user=REP))
    [call] = bot.standin.calls_to("views.open")
    view = call.body["view"]
    assert view["callback_id"] == "concern_modal"
    assert json.loads(view["private_metadata"]) == {"deal_id": deal_id}
    account_input = next(b for b in view["blocks"] if b.get("block_id") == "account")
    assert account_input["element"]["initial_value"] == "Globex"

    empty = bot.send(
        bot.slack.view_submission(
            "concern_modal",
            {
                "account": {"account": plain_text_value("Globex")},
                "concern": {"concern": plain_text_value("   ")},
            },
            user=REP,
            private_metadata=view["private_metadata"],
        )
    ).json()
    assert empty["response_action"] == "errors" and set(empty["errors"]) == {"concern"}
    assert loops(bot) == []

    done = bot.send(
        bot.slack.view_submission(
            "concern_modal",
            {
                "account": {"account": plain_text_value("Globex")},
                "concern": {"concern": plain_text_value("Needs SSO before signing")},
            },
            user=REP,
            private_metadata=view["private_metadata"],
        )
    ).json()
    assert done["response_action"] == "update"
    assert "Needs SSO before signing" in json.dumps(done["view"])
    [run] = loops(bot)
    assert (run.deal_id, run.account, run.data["concern"]) == (
        deal_id,
        "Globex",
        "Needs SSO before signing",
    )
    clock.advance(DELAY)
    bot.tick()
    assert len(checkins(bot)) == 1


def test_debrief_button_for_a_missing_deal_still_lets_the_rep_type_the_account(
    bot: RunningBot,
) -> None:
    bot.send(bot.slack.block_action("concern_open", value="999", user=REP))
    [call] = bot.standin.calls_to("views.open")
    account_input = next(b for b in call.body["view"]["blocks"] if b.get("block_id") == "account")
    assert "initial_value" not in account_input["element"]
    empty = bot.send(
        bot.slack.view_submission(
            "concern_modal",
            {
                "account": {"account": plain_text_value("")},
                "concern": {"concern": plain_text_value("")},
            },
            user=REP,
            private_metadata=call.body["view"]["private_metadata"],
        )
    ).json()
    assert set(empty["errors"]) == {"account", "concern"}
