"""Screen-out review: two questions in a modal, field errors Slack shows on the field,
the leave-on-good-terms words, and the review brought back at 09:00 in the rep's zone."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.devkit.requests import datepicker_value, plain_text_value, radio_buttons_value
from bot.devkit.standin import check_message_blocks, check_view
from bot.messages import Texts
from bot.messages.catalog import ScriptCatalog
from bot.messages.screen_out import good_terms_dm, review_dm, screen_out_modal
from handlers.screen_out import review_due_at
from storage.models import Nudge, RitualRun
from tests.conftest import REP, RunningBot

CALLBACK = "screen_out_submit"


def open_modal(bot: RunningBot, account: str = "Acme Corp") -> dict[str, Any]:
    resp = bot.send(bot.slack.slash_command(f"screen-out {account}", user=REP))
    assert resp.status == 200
    [call] = bot.standin.calls_to("views.open")
    view = call.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert check_view(view) == []
    return dict(view)


def answers(
    potential: str | None = "no", review: str | None = "2027-02-01", notes: str | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        "screen_out_potential": {"potential": radio_buttons_value(potential)},
        "screen_out_review": {"review_date": datepicker_value(review)},
        "screen_out_notes": {"notes": plain_text_value(notes)},
    }


def submit(bot: RunningBot, view: dict[str, Any], values: dict[str, Any]) -> Any:
    return bot.send(
        bot.slack.view_submission(
            CALLBACK, values, user=REP, private_metadata=view["private_metadata"]
        )
    )


def runs(bot: RunningBot) -> list[RitualRun]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(RitualRun).where(RitualRun.ritual == "screen_out")).all())


def reviews(bot: RunningBot) -> list[str]:
    """The review DMs (other rituals' nudges may fall due while the clock moves on)."""
    return [
        json.dumps(m.get("blocks"))
        for m in bot.standin.messages(bot.standin.dm_channel(REP))
        if m["text"].startswith("Time to review")
    ]


def test_screen_out_opens_a_modal_with_the_two_questions(bot: RunningBot) -> None:
    view = open_modal(bot)
    assert view["callback_id"] == CALLBACK
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert inputs["screen_out_potential"]["element"]["type"] == "radio_buttons"
    values = [o["value"] for o in inputs["screen_out_potential"]["element"]["options"]]
    assert values == ["yes", "no", "unsure"]
    assert inputs["screen_out_review"]["element"]["type"] == "datepicker"
    assert inputs["screen_out_notes"]["optional"] is True
    assert "Acme Corp" in json.dumps(view["blocks"])


def test_screen_out_without_an_account_says_what_to_type(bot: RunningBot) -> None:
    body = bot.send(bot.slack.slash_command("screen-out", user=REP)).json()
    assert body["response_type"] == "ephemeral"
    assert "/loop screen-out <account>" in body["text"]
    assert bot.standin.calls_to("views.open") == []


def test_empty_required_fields_come_back_as_field_errors(bot: RunningBot) -> None:
    view = open_modal(bot)
    resp = submit(bot, view, answers(potential=None, review=None))
    body = resp.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"screen_out_potential", "screen_out_review"}
    assert runs(bot) == [] and bot.standin.calls_to("chat.postMessage") == []


def test_a_review_date_in_the_past_is_a_field_error(bot: RunningBot) -> None:
    view = open_modal(bot)
    body = submit(bot, view, answers(review="2026-11-22")).json()
    assert body == {
        "response_action": "errors",
        "errors": {"screen_out_review": bot.rt.catalog.text("en", "screenout.error_review_past")},
    }
    assert runs(bot) == []


def test_submission_records_answers_and_sends_the_good_terms_words(bot: RunningBot) -> None:
    view = open_modal(bot)
    resp = submit(bot, view, answers(potential="unsure", review="2027-02-01", notes="No budget"))
    assert resp.status == 200 and "errors" not in resp.body
    [run] = runs(bot)
    assert (run.user_slack_id, run.account, run.state) == (REP, "Acme Corp", "scheduled")
    assert run.data["potential"] == "unsure"
    assert run.data["review_date"] == "2027-02-01"
    assert run.data["notes"] == "No budget"
    [dm] = bot.standin.messages(bot.standin.dm_channel(REP))
    assert check_message_blocks(dm["blocks"]) == []
    good_terms = bot.rt.catalog.text("en", "screenout.good_terms")
    assert good_terms.split(".")[0] in json.dumps(dm["blocks"], ensure_ascii=False)
    assert "February 1, 2027" in dm["text"]


def test_review_arrives_at_nine_in_the_reps_zone_on_the_review_date(bot: RunningBot) -> None:
    view = open_modal(bot)
    submit(bot, view, answers(review="2026-12-01"))
    with Session(bot.rt.engine) as s:
        review = s.exec(select(Nudge).where(Nudge.kind == "screen_out_review")).one()
    # REP is in America/New_York: 09:00 EST is 14:00 UTC.
    assert review.due_at == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    bot.rt.clock.set(datetime(2026, 12, 1, 13, 59, tzinfo=UTC))  # type: ignore[attr-defined]
    bot.tick()
    assert reviews(bot) == []
    bot.rt.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    bot.tick()
    [review_text] = reviews(bot)
    assert "Time to review *Acme Corp*" in review_text
    assert "November 23, 2026" in review_text  # when it was screened out
    [run] = runs(bot)
    assert run.state == "review_sent"


def test_review_now_reopens_the_questions_and_closes_the_old_review(bot: RunningBot) -> None:
    view = open_modal(bot)
    submit(bot, view, answers(review="2026-12-01"))
    bot.rt.clock.set(datetime(2026, 12, 1, 14, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    bot.tick()
    [review_dm] = [
        m
        for m in bot.standin.messages(bot.standin.dm_channel(REP))
        if m["text"].startswith("Time to review")
    ]
    channel = bot.standin.dm_channel(REP)
    bot.send(
        bot.slack.block_action(
            "screen_out_review_now", user=REP, channel=channel, message=review_dm
        )
    )
    opened = bot.standin.calls_to("views.open")
    assert len(opened) == 2
    second = opened[-1].body["view"]
    second = json.loads(second) if isinstance(second, str) else second
    assert check_view(second) == []
    submit(bot, second, answers(potential="yes", review="2027-06-01"))
    first, again = sorted(runs(bot), key=lambda r: r.id or 0)
    assert first.state == "reviewed"
    assert (again.state, again.data["potential"], again.data["previous_run"]) == (
        "scheduled",
        "yes",
        first.id,
    )


@pytest.mark.parametrize(
    "review, tz, expected",
    [
        (date(2027, 1, 15), "America/New_York", datetime(2027, 1, 15, 14, 0, tzinfo=UTC)),
        (date(2027, 3, 15), "America/New_York", datetime(2027, 3, 15, 13, 0, tzinfo=UTC)),
        (date(2027, 7, 1), "Europe/Madrid", datetime(2027, 7, 1, 7, 0, tzinfo=UTC)),
        (date(2027, 7, 1), None, datetime(2027, 7, 1, 9, 0, tzinfo=UTC)),
        (date(2027, 7, 1), "Not/AZone", datetime(2027, 7, 1, 9, 0, tzinfo=UTC)),
    ],
    ids=["winter-est", "after-dst-starts-edt", "madrid-cest", "no-tz-utc", "bad-tz-utc"],
)
def test_review_time_is_nine_local(review: date, tz: str | None, expected: datetime) -> None:
    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert review_due_at(review, tz, now) == expected


def test_a_review_set_for_today_after_nine_is_due_now() -> None:
    now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    assert review_due_at(date(2026, 11, 23), "America/New_York", now) == now


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_modal_and_dms_are_valid_block_kit_in_every_language(lang: str) -> None:
    t = Texts(ScriptCatalog.load(), lang)
    long_account = "Acme " * 60
    assert check_view(screen_out_modal(t, account=long_account, previous_run=7)) == []
    assert check_message_blocks(good_terms_dm(t, account="Acme", date="2027-01-01").blocks) == []
    review = review_dm(t, account=long_account, screened_on="2026-11-23", run_id=7)
    assert check_message_blocks(review.blocks) == []


def test_review_now_on_a_deleted_review_says_so_and_what_to_type(bot: RunningBot) -> None:
    view = open_modal(bot)
    submit(bot, view, answers(review="2026-12-01"))
    bot.rt.clock.set(datetime(2026, 12, 1, 14, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    bot.tick()
    [review_message] = [
        m
        for m in bot.standin.messages(bot.standin.dm_channel(REP))
        if m["text"].startswith("Time to review")
    ]
    with Session(bot.rt.engine) as s:  # as `/loop forget-me` would: nudges, then runs
        for nudge in s.exec(select(Nudge)).all():
            s.delete(nudge)
        s.flush()
        for run in s.exec(select(RitualRun).where(RitualRun.ritual == "screen_out")).all():
            s.delete(run)
        s.commit()
    channel = bot.standin.dm_channel(REP)
    bot.send(
        bot.slack.block_action(
            "screen_out_review_now", user=REP, channel=channel, message=review_message
        )
    )
    [reply] = bot.standin.calls_to("response_url")
    assert reply.body["response_type"] == "ephemeral"
    assert reply.body["text"] == bot.rt.catalog.text("en", "screenout.gone")
    assert "/loop screen-out <account>" in reply.body["text"]
    assert len(bot.standin.calls_to("views.open")) == 1  # only the first, from the command
