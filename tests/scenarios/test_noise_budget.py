"""The noise budget: one DM per rep per hour (what falls due together is one message with a
section each, every section's buttons working), at most DAILY_NUDGE_CAP a day (the rest
on the next working day), a deal DM never held, an unanswered check-in asked once more
and then shown overdue. Through signed requests, the stand-in and the fake clock.

REP is in New York (UTC-5 in late November); the fake clock starts Monday 2026-11-23
14:00 UTC, 09:00 there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.clock import FakeClock
from bot.devkit.requests import datepicker_value, plain_text_value, radio_buttons_value
from bot.devkit.standin import SlackStandIn
from bot.messages import Texts
from bot.messages.blocks import MESSAGE_BLOCKS_MAX
from bot.messages.bundle import Section, compose, merge_section
from bot.messages.catalog import ScriptCatalog
from bot.nudges.budget import CAPPED
from bot.nudges.delivery import LEASE, LOST_CLAIM, send_group
from storage import nudges
from storage.db import unit_of_work
from storage.models import Nudge, RitualRun
from tests.conftest import REP, REP2, RunningBot, start_bot
from tests.scenarios.test_home import home_opened, published_text
from tests.support.bundles import click_section, section_action_ids, sections
from tests.support.debrief_steps import assert_all_block_kit_valid, close_deal

DELAY = timedelta(hours=48)
FRENCH = "U0REPFR"


def loop(bot: RunningBot, text: str, *, user: str = REP) -> dict[str, Any]:
    resp = bot.send(bot.slack.slash_command(text, user=user))
    assert resp.status == 200
    return resp.json() if resp.body else {}


def dms(bot: RunningBot, user: str = REP) -> list[dict[str, Any]]:
    return bot.standin.messages(bot.standin.dm_channel(user))


def checkin_rows(bot: RunningBot) -> list[Nudge]:
    with Session(bot.rt.engine) as s:
        query = select(Nudge).where(Nudge.kind == "concern_checkin").order_by(col(Nudge.id))
        return list(s.exec(query).all())


def concern_runs(bot: RunningBot) -> list[RitualRun]:
    with Session(bot.rt.engine) as s:
        query = select(RitualRun).where(RitualRun.ritual == "concern").order_by(col(RitualRun.id))
        return list(s.exec(query).all())


def at_ny(clock: FakeClock, day: int, hour: int, minute: int = 0) -> None:
    """Set the clock to a New York wall time in late November 2026 (UTC-5)."""
    clock.set(datetime(2026, 11, day, hour + 5, minute, tzinfo=UTC))


def track(bot: RunningBot, *accounts: str, user: str = REP) -> None:
    for account in accounts:
        loop(bot, f"concern {account} — {account.lower()} timeline worry", user=user)


def mentions(message: dict[str, Any], word: str) -> bool:
    return word in json.dumps(message, ensure_ascii=False)


# --- one DM for what falls due together ----------------------------------------------------


def test_four_check_ins_due_together_are_one_dm_whose_sections_all_answer(
    bot: RunningBot, clock: FakeClock
) -> None:
    track(bot, "Acme", "Globex", "Initech", "Hooli")
    clock.advance(DELAY)
    bot.tick()

    [dm] = dms(bot)
    acme, globex, initech, hooli = sections(dm)
    for account in ("Acme", "Globex", "Initech", "Hooli"):
        assert mentions(dm, account)
    # Every row of the DM is sent, with the DM's ts.
    asked = [n for n in checkin_rows(bot) if not n.payload.get("again")]
    assert {(n.state, n.sent_ts) for n in asked} == {("sent", dm["ts"])}

    answers = {
        acme: "concern_satisfied",
        globex: "concern_not_yet",
        initech: "concern_didnt_ask",
        hooli: "concern_drop",
    }
    for section, action in answers.items():
        [current] = dms(bot)
        click_section(bot, REP, current, section, action)
        [after] = dms(bot)
        # That section lost its buttons; the others not answered yet keep theirs.
        assert section_action_ids(after, section) == []
        for other in sections(after):
            if other not in answers or list(answers).index(other) > list(answers).index(section):
                assert section_action_ids(after, other), f"section {other} lost its buttons"

    [final] = dms(bot)
    assert "Closed." in json.dumps(final) and "Dropped on purpose" in json.dumps(final)
    assert [r.state for r in concern_runs(bot)] == ["closed", "open", "open", "dropped"]
    # Still one message in the DM: the answers replaced sections, nothing was posted.
    assert len(dms(bot)) == 1
    assert_all_block_kit_valid(bot)


def test_a_second_click_on_an_answered_section_changes_nothing(
    bot: RunningBot, clock: FakeClock
) -> None:
    track(bot, "Acme", "Globex")
    clock.advance(DELAY)
    bot.tick()
    [dm] = dms(bot)
    acme, globex = sections(dm)
    click_section(bot, REP, dm, acme, "concern_satisfied")
    # The stale copy of the message (before the update) clicked again.
    click_section(bot, REP, dm, acme, "concern_satisfied")
    assert [r.state for r in concern_runs(bot)] == ["closed", "open"]
    [after] = dms(bot)
    assert section_action_ids(after, globex)


def test_another_rep_cannot_answer_a_section(bot: RunningBot, clock: FakeClock) -> None:
    track(bot, "Acme", "Globex")
    clock.advance(DELAY)
    bot.tick()
    [dm] = dms(bot)
    acme, _ = sections(dm)
    request = bot.slack.block_action(
        "concern_satisfied",
        user=REP2,
        channel=bot.standin.dm_channel(REP),
        message=dm,
        block_id=f"nb{acme}|concern_answer",
        value=f"{concern_runs(bot)[0].id}:1",
    )
    assert bot.send(request).status == 200
    assert [r.state for r in concern_runs(bot)] == ["open", "open"]
    [after] = dms(bot)
    assert section_action_ids(after, acme)


def test_one_dm_an_hour_what_falls_due_after_it_waits_for_the_hour(
    bot: RunningBot, clock: FakeClock
) -> None:
    track(bot, "Acme")
    clock.advance(timedelta(minutes=70))
    track(bot, "Globex")  # due 70 minutes after Acme's: the next slot
    clock.advance(DELAY - timedelta(minutes=70))
    bot.tick()
    assert len(dms(bot)) == 1
    clock.advance(timedelta(minutes=70))
    bot.tick()
    assert len(dms(bot)) == 2

    # Due 20 minutes after a DM (nothing else pulled it in): it waits for the hour.
    track(bot, "Initech")
    clock.advance(DELAY - timedelta(minutes=40))
    bot.tick()
    assert len(dms(bot)) == 3
    track(bot, "Hooli")
    clock.advance(DELAY)
    bot.tick()
    # Hooli's check-in is due now, and the re-asks of the first ones: one DM.
    assert len(dms(bot)) == 4


def test_something_due_within_the_hour_comes_in_the_same_dm(
    bot: RunningBot, clock: FakeClock
) -> None:
    track(bot, "Acme")
    clock.advance(timedelta(minutes=40))
    track(bot, "Globex")
    clock.advance(DELAY - timedelta(minutes=40))
    bot.tick()
    [dm] = dms(bot)
    assert mentions(dm, "Acme") and mentions(dm, "Globex")
    clock.advance(timedelta(minutes=45))
    bot.tick()
    assert len(dms(bot)) == 1


def review_friday(bot: RunningBot, account: str = "Umbrella") -> None:
    resp = bot.send(bot.slack.slash_command(f"screen-out {account}", user=REP))
    assert resp.status == 200
    view = bot.standin.calls_to("views.open")[-1].body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    values = {
        "screen_out_potential": {"potential": radio_buttons_value("no")},
        "screen_out_review": {"review_date": datepicker_value("2026-11-27")},
        "screen_out_notes": {"notes": plain_text_value(None)},
    }
    request = bot.slack.view_submission(
        "screen_out_submit", values, user=REP, private_metadata=view["private_metadata"]
    )
    assert bot.send(request).status == 200


def test_friday_half_past_five_pile_up_is_one_message(bot: RunningBot, clock: FakeClock) -> None:
    # Tuesday 17:30: a loss closes (its reminder falls on Friday 17:30).
    at_ny(clock, 24, 17, 30)
    close_deal(bot, "lost", "Globex", REP)
    bot.tick()
    # A screen-out to review on Friday (09:00), and a rep snoozed until 17:25 that day.
    review_friday(bot)
    at_ny(clock, 27, 8, 55)
    loop(bot, "snooze 510m")  # until 17:25
    before = len(dms(bot))

    at_ny(clock, 27, 17, 25)
    bot.tick()
    at_ny(clock, 27, 17, 40)
    bot.tick()
    new = dms(bot)[before:]
    [pile] = new
    assert mentions(pile, "Umbrella"), "the screen-out review"
    assert mentions(pile, "Globex"), "the debrief reminder"
    assert mentions(pile, "End of the day"), "the reflection"
    assert len(sections(pile)) == 3
    reflect_in_the_bundle(bot, pile)

    # The weekly digest reports tonight's reflection, so it keeps its own slot, an hour on.
    at_ny(clock, 27, 18, 30)
    bot.tick()
    at_ny(clock, 27, 18, 31)
    bot.tick()
    [*_, digest] = dms(bot)
    assert digest is not pile and float(digest["ts"]) > float(pile["ts"])
    assert_all_block_kit_valid(bot)


def reflect_in_the_bundle(bot: RunningBot, pile: dict[str, Any]) -> None:
    """Reflect now, from its section, then the form: the answer replaces that section
    only, though the form's submission is no click on the message."""
    [mine] = [s for s in sections(pile) if "reflect_open" in section_action_ids(pile, s)]
    others = [s for s in sections(pile) if s != mine]
    before = len(bot.standin.calls_to("views.open"))
    click_section(bot, REP, pile, mine, "reflect_open")
    [*_, opened] = bot.standin.calls_to("views.open")
    assert len(bot.standin.calls_to("views.open")) == before + 1
    view = opened.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    fields = [b for b in view["blocks"] if b["type"] == "input"]
    values = {
        b["block_id"]: {
            b["element"]["action_id"]: plain_text_value("Asked what I could do better.")
        }
        for b in fields
    }
    request = bot.slack.view_submission(
        view["callback_id"],
        values,
        user=REP,
        private_metadata=view["private_metadata"],
        blocks=view["blocks"],
    )
    assert bot.send(request).status == 200
    [now] = [m for m in dms(bot) if m["ts"] == pile["ts"]]
    assert "reflect_open" not in section_action_ids(now, mine)
    for other in others:
        assert section_action_ids(now, other) == section_action_ids(pile, other)


def test_the_digest_due_just_inside_the_hour_waits_minutes_and_is_not_skipped(
    bot: RunningBot, clock: FakeClock
) -> None:
    close_deal(bot, "won", "Acme", REP)  # a rep: the evening DMs come to them
    at_ny(clock, 27, 12)
    bot.tick()
    base = len(dms(bot))
    at_ny(clock, 27, 17, 33)  # the reflection goes out three minutes late
    bot.tick()
    assert len(dms(bot)) == base + 1
    at_ny(clock, 27, 18, 30)  # the digest falls due 57 minutes after it
    bot.tick()
    assert len(dms(bot)) == base + 1
    [digest] = [n for n in all_rows(bot) if n.kind == "weekly_digest"]
    assert digest.state == "pending"
    at_ny(clock, 27, 18, 34)
    bot.tick()
    assert len(dms(bot)) == base + 2
    assert mentions(dms(bot)[-1], "Your week")


def all_rows(bot: RunningBot) -> list[Nudge]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Nudge).order_by(col(Nudge.id))).all())


# --- the daily cap -----------------------------------------------------------------------


def test_the_fourth_dm_of_a_friday_moves_to_monday_morning(
    bot: RunningBot, clock: FakeClock
) -> None:
    # Wednesday: four concerns two hours apart, so four check-ins on Friday, two hours apart.
    for hour, account in ((9, "Acme"), (11, "Globex"), (13, "Initech"), (15, "Hooli")):
        at_ny(clock, 25, hour)
        track(bot, account)
    for hour in (9, 11, 13, 15):
        at_ny(clock, 27, hour)
        bot.tick()
    friday = [m for m in dms(bot) if mentions(m, "satisfy your concern")]
    assert len(friday) == 3
    assert not any(mentions(m, "Hooli") for m in friday)
    [hooli] = [n for n in checkin_rows(bot) if n.payload["run_id"] == concern_runs(bot)[3].id]
    assert hooli.state == "pending" and hooli.last_error == CAPPED
    # 09:00 on Monday in New York.
    assert hooli.due_at == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)

    at_ny(clock, 28, 9)  # Saturday: still waiting
    bot.tick()
    assert not any(mentions(m, "Hooli") for m in dms(bot))
    at_ny(clock, 30, 9)
    bot.tick()
    assert mentions(dms(bot)[-1], "Hooli")


def test_the_cap_is_a_setting(standin: SlackStandIn, clock: FakeClock, sqlite_url: str) -> None:
    bot, stop = start_bot(standin, clock, sqlite_url, extra_env={"DAILY_NUDGE_CAP": "1"})
    try:
        track(bot, "Acme")
        clock.advance(timedelta(hours=2))
        track(bot, "Globex")
        clock.advance(DELAY)
        bot.tick()
        assert len(dms(bot)) == 1
        clock.advance(timedelta(hours=2))
        bot.tick()
        assert len(dms(bot)) == 1
    finally:
        stop()


def test_a_deal_dm_is_never_held_bundled_or_counted(bot: RunningBot, clock: FakeClock) -> None:
    for hour, account in ((9, "Acme"), (11, "Globex"), (13, "Initech")):
        at_ny(clock, 25, hour)
        track(bot, account)
    for hour in (9, 11, 13):
        at_ny(clock, 27, hour)
        bot.tick()
    assert len(dms(bot)) == 3  # the cap is reached
    at_ny(clock, 27, 13, 10)  # and a DM went out ten minutes ago
    close_deal(bot, "lost", "Wayne Enterprises", REP)
    bot.tick()
    [*_, deal_dm] = dms(bot)
    assert mentions(deal_dm, "Wayne Enterprises")
    assert sections(deal_dm) == [], "a deal DM is a message of its own"


# --- unanswered check-ins ------------------------------------------------------------------


def test_an_unanswered_check_in_is_asked_once_more_then_overdue(
    bot: RunningBot, clock: FakeClock
) -> None:
    track(bot, "Acme")
    clock.advance(DELAY)
    bot.tick()
    assert len(dms(bot)) == 1
    listing = json.dumps(loop(bot, "concern list"))
    assert "Next check-in: November 27, 2026" in listing

    clock.advance(DELAY)
    bot.tick()
    [_, again] = dms(bot)
    assert mentions(again, "Asking once more")
    clock.advance(DELAY * 3)
    bot.tick()
    assert len(dms(bot)) == 2, "asked twice, then no more"

    listing = json.dumps(loop(bot, "concern list"))
    assert "Next check-in" not in listing
    assert "Check-in overdue since November 27, 2026" in listing
    bot.send(home_opened(bot, REP))
    home = published_text(bot, REP)
    assert "check-in overdue since November 27, 2026" in home
    assert "next check-in" not in home

    # The second ask still answers the loop.
    click_plain(bot, again, "concern_satisfied")
    assert concern_runs(bot)[0].state == "closed"


def click_plain(bot: RunningBot, message: dict[str, Any], action_id: str) -> None:
    request = bot.slack.block_action(
        action_id, user=REP, channel=bot.standin.dm_channel(REP), message=message
    )
    assert bot.send(request).status == 200


def test_an_answer_before_the_second_ask_cancels_it(bot: RunningBot, clock: FakeClock) -> None:
    track(bot, "Acme")
    clock.advance(DELAY)
    bot.tick()
    [dm] = dms(bot)
    click_plain(bot, dm, "concern_not_yet")
    states = {n.idempotency_key: n.state for n in checkin_rows(bot)}
    assert states[f"concern:{concern_runs(bot)[0].id}:checkin:1:again"] == "cancelled"
    clock.advance(DELAY)
    bot.tick()
    # Check-in 2 (the "not yet" one), not the second ask of check-in 1.
    [_, second] = dms(bot)
    assert not mentions(second, "Asking once more")


# --- Slack failing under a bundle -----------------------------------------------------------


@pytest.fixture
def synced(standin: SlackStandIn, clock: FakeClock, db_url: str) -> Iterator[RunningBot]:
    """On SQLite and PostgreSQL, the stand-in stamping ts by the fake clock (reconciling
    reads the DM's history from the first attempt on)."""
    standin.follow_clock(lambda: clock.now().timestamp())
    running, stop = start_bot(standin, clock, db_url)
    yield running
    stop()


def test_a_bundle_slack_stored_before_a_500_is_found_and_never_sent_twice(
    synced: RunningBot, clock: FakeClock
) -> None:
    bot = synced
    track(bot, "Acme", "Globex", "Initech")
    clock.advance(DELAY)
    bot.standin.fail_next("chat.postMessage", status=500, after_processing=True)
    bot.tick()
    assert {n.state for n in checkin_rows(bot)} == {"uncertain"}
    clock.advance(timedelta(seconds=31))
    bot.tick()
    [dm] = dms(bot)
    assert len(sections(dm)) == 3
    rows = checkin_rows(bot)
    assert {(n.state, n.sent_ts) for n in rows if not n.payload.get("again")} == {
        ("sent", dm["ts"])
    }


def test_a_bundle_lost_before_slack_stored_it_goes_out_once(
    synced: RunningBot, clock: FakeClock
) -> None:
    bot = synced
    track(bot, "Acme", "Globex")
    clock.advance(DELAY)
    bot.standin.fail_next("chat.postMessage", status=500)
    bot.tick()
    assert dms(bot) == []
    clock.advance(timedelta(seconds=31))
    bot.tick()
    [dm] = dms(bot)
    assert len(sections(dm)) == 2
    first = [n for n in checkin_rows(bot) if not n.payload.get("again")]
    assert {n.state for n in first} == {"sent"}


def test_a_dispatcher_killed_mid_post_leaves_the_bundle_to_be_reconciled(
    synced: RunningBot, clock: FakeClock
) -> None:
    bot = synced
    track(bot, "Acme", "Globex")
    clock.advance(DELAY)
    bot.standin.fail_connection_next("chat.postMessage", after_processing=True)
    bot.tick()
    clock.advance(timedelta(minutes=1))
    bot.tick()
    [dm] = dms(bot)
    assert len(sections(dm)) == 2
    assert {n.state for n in checkin_rows(bot) if not n.payload.get("again")} == {"sent"}


def test_four_check_ins_are_one_dm_on_both_databases(synced: RunningBot, clock: FakeClock) -> None:
    bot = synced
    track(bot, "Acme", "Globex", "Initech", "Hooli")
    clock.advance(DELAY)
    bot.tick()
    [dm] = dms(bot)
    assert len(sections(dm)) == 4
    click_section(bot, REP, dm, sections(dm)[2], "concern_satisfied")
    assert [r.state for r in concern_runs(bot)] == ["open", "open", "closed", "open"]


# --- Block Kit limits -----------------------------------------------------------------------


def test_a_bundle_too_big_for_one_message_is_split_and_says_so() -> None:
    t = Texts(ScriptCatalog.load(None), "en")
    big = [
        Section(
            i, f"nudge {i}", [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 10
        )
        for i in range(1, 8)
    ]
    built, kept = compose(t, big)
    assert len(built.blocks) <= MESSAGE_BLOCKS_MAX
    assert kept == [1, 2, 3, 4]
    assert "3 more in my next message" in json.dumps(built.blocks)
    # Block ids stay unique (Slack refuses a message with two alike).
    ids = [b["block_id"] for b in built.blocks]
    assert len(ids) == len(set(ids))


def test_answering_a_section_replaces_only_its_blocks() -> None:
    t = Texts(ScriptCatalog.load(None), "en")
    one = [{"type": "section", "text": {"type": "mrkdwn", "text": "one"}}]
    two = [{"type": "section", "text": {"type": "mrkdwn", "text": "two"}}]
    built, _ = compose(t, [Section(7, "a", one), Section(9, "b", two)])
    answer = [{"type": "section", "text": {"type": "mrkdwn", "text": "done"}}]
    merged = merge_section(built.blocks, 9, answer)
    assert merged is not None
    text = json.dumps(merged)
    assert "one" in text and "done" in text and '"two"' not in text
    # A whole message (holding another section's blocks) is left as it is.
    assert merge_section(built.blocks, 9, built.blocks) is None


def test_many_check_ins_due_at_once_go_out_in_a_few_dms_not_one_each(
    bot: RunningBot, clock: FakeClock
) -> None:
    track(bot, *[f"Account{i:02d}" for i in range(15)])
    clock.advance(DELAY)
    bot.tick()
    first = dms(bot)
    assert len(first) == 1 and len(sections(first[0])) == 12
    clock.advance(timedelta(hours=1))
    bot.tick()
    assert len(dms(bot)) == 2 and len(sections(dms(bot)[1])) == 3
    assert_all_block_kit_valid(bot)


# --- languages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "header", "overdue"),
    [
        (REP, "2 things from Feedback Loop", "Check-in overdue"),
        (REP2, "2 cosas de Feedback Loop", "Seguimiento vencido"),
        (FRENCH, "2 points de Feedback Loop", "Point en retard"),
    ],
)
def test_new_words_in_each_language(
    bot: RunningBot, clock: FakeClock, user: str, header: str, overdue: str
) -> None:
    bot.standin.add_user(
        FRENCH, name="francois", real_name="François", tz="Europe/Paris", locale="fr-FR"
    )
    bot.standin.set_dnd(FRENCH, dnd_enabled=False)
    track(bot, "Acme", "Globex", user=user)
    clock.advance(DELAY)
    bot.tick()
    [dm] = dms(bot, user)
    assert header in json.dumps(dm, ensure_ascii=False)
    clock.advance(DELAY * 2)
    bot.tick()
    assert len(dms(bot, user)) == 2
    listing = json.dumps(loop(bot, "concern list", user=user), ensure_ascii=False)
    assert overdue in listing
    assert_all_block_kit_valid(bot)


# --- off -------------------------------------------------------------------------------------


def test_with_the_budget_off_every_nudge_is_its_own_dm(
    standin: SlackStandIn, clock: FakeClock, sqlite_url: str
) -> None:
    bot, stop = start_bot(standin, clock, sqlite_url, extra_env={"NOISE_BUDGET": "off"})
    try:
        track(bot, "Acme", "Globex", "Initech", "Hooli")
        clock.advance(DELAY)
        bot.tick()
        assert len(dms(bot)) == 4
    finally:
        stop()


def test_a_bundle_whose_row_changed_hands_posts_nothing_and_hands_back_the_rest(
    bot: RunningBot, clock: FakeClock
) -> None:
    track(bot, "Acme", "Globex")
    clock.advance(DELAY)
    now = clock.now()
    with unit_of_work(bot.rt.engine, immediate=True) as session:
        claimed = nudges.claim_due(session=session, now=now, limit=10, lease=LEASE)
    assert len(claimed) == 2
    # Another worker took the second row over (its lease ran out and it was reclaimed).
    with unit_of_work(bot.rt.engine) as session:
        row = session.get(Nudge, claimed[1].id)
        assert row is not None
        row.claim_token = "someone-else"
        session.add(row)
    assert bot.run(send_group(bot.rt, claimed)) == LOST_CLAIM
    assert dms(bot) == []
    states = {n.id: n.state for n in checkin_rows(bot)}
    assert states[claimed[0].id] == "pending"
    assert states[claimed[1].id] == "sending"  # the other worker's now
