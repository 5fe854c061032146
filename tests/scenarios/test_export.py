"""`/loop export`: CSV files in the asker's DM, scoped by role — a rep their own rows, a
manager their team's, an admin everyone's — with private text only where the reader may
read it (the same rule as prep and App Home) and reflections only ever the reader's own."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import Session

from storage.models import Deal, Reflection, Story
from tests.conftest import ADMIN, MANAGER, REP, REP2, RunningBot
from tests.support.debrief_steps import (
    click,
    close_deal,
    last_modal,
    set_manager,
    submit,
)

PRIVATE_GUESS = "Our onboarding looked slow next to theirs"


def export(bot: RunningBot, user: str, what: str = "all") -> dict[str, list[dict[str, str]]]:
    """Run the command; the files that reached the user's DM, parsed, by kind."""
    before = {f["id"] for f in bot.standin.uploaded_files()}
    result = bot.send(bot.slack.slash_command(f"export {what}".strip(), user=user))
    assert result.status == 200
    channel = bot.standin.dm_channel(user)
    out: dict[str, list[dict[str, str]]] = {}
    for f in bot.standin.uploaded_files(channel):
        if f["id"] in before:
            continue
        content: bytes = f["content"]
        assert content.startswith("\ufeff".encode()), "UTF-8 with a BOM, for Excel"
        kind = f["name"].split("-")[2]
        out[kind] = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    return out


def seed(bot: RunningBot) -> None:
    """REP (reports to MANAGER): a lost deal with a private guess, a concern, a
    reflection. REP2 (no manager): a won deal and a reflection."""
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "guess_open")
    submit(bot, REP, last_modal(bot), {"guess": PRIVATE_GUESS})
    bot.send(bot.slack.slash_command("concern Initech — worried about the price", user=REP))
    close_deal(bot, "won", "Hooli", REP2)
    now = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    with Session(bot.rt.engine) as s:
        for who, words in ((REP, "Rita's private evening"), (REP2, "Sam's private evening")):
            s.add(
                Reflection(
                    team_id=bot.slack.team_id,
                    user_slack_id=who,
                    local_date="2026-11-30",
                    went=words,
                    created_at=now,
                    updated_at=now,
                )
            )
        s.commit()


def test_a_rep_gets_only_their_own_rows_with_their_own_words(bot: RunningBot) -> None:
    seed(bot)
    files = export(bot, REP)
    assert set(files) == {"deals", "debriefs", "concerns", "stories", "reflections"}
    assert [d["account"] for d in files["deals"]] == ["Globex"]
    assert list(files["deals"][0]) == [
        "deal_id", "closed_at", "account", "outcome", "amount", "currency", "rep",
        "source", "crm_record", "status",
    ]  # fmt: skip
    [debrief] = files["debriefs"]
    assert debrief["guess"] == PRIVATE_GUESS and debrief["answers_included"] == "yes"
    [concern] = files["concerns"]
    assert concern["concern"] and "price" in concern["concern"]
    assert [r["went_well"] for r in files["reflections"]] == ["Rita's private evening"]


def test_a_manager_gets_the_team_without_private_words_until_asked_to_call(
    bot: RunningBot,
) -> None:
    seed(bot)
    files = export(bot, MANAGER)
    assert [d["account"] for d in files["deals"]] == ["Globex"]  # not REP2's Hooli
    [debrief] = files["debriefs"]
    assert debrief["rep"] == REP and debrief["guess"] == ""
    assert debrief["answers_included"] == "no"
    [concern] = files["concerns"]
    assert concern["rep"] == REP and concern["concern"] == "" and concern["state"]
    assert files["reflections"] == []  # never anyone else's

    click(bot, REP, "manager_call_request")  # the rep hands the call to the manager
    [debrief] = export(bot, MANAGER, "debriefs")["debriefs"]
    assert debrief["guess"] == PRIVATE_GUESS and debrief["answers_included"] == "yes"


def test_an_admin_gets_everyone_but_no_ones_reflections(bot: RunningBot) -> None:
    seed(bot)
    files = export(bot, ADMIN)
    assert sorted(d["account"] for d in files["deals"]) == ["Globex", "Hooli"]
    assert {d["rep"] for d in files["debriefs"]} == {REP, REP2}
    assert all(d["guess"] == "" for d in files["debriefs"])
    assert files["reflections"] == []


def test_another_rep_sees_nothing_of_the_first(bot: RunningBot) -> None:
    seed(bot)
    files = export(bot, REP2)
    assert [d["account"] for d in files["deals"]] == ["Hooli"]
    assert files["concerns"] == []
    assert [r["went_well"] for r in files["reflections"]] == ["Sam's private evening"]


def test_one_kind_and_an_unknown_word(bot: RunningBot) -> None:
    seed(bot)
    assert set(export(bot, REP, "deals")) == {"deals"}
    reply = bot.send(bot.slack.slash_command("export everything", user=REP)).json()
    assert reply["text"] == bot.rt.catalog.text("en", "export.usage")


def test_an_upload_that_fails_says_so_and_what_to_type(bot: RunningBot) -> None:
    seed(bot)
    bot.standin.fail_next("files.completeUploadExternal", error="not_in_channel")
    assert export(bot, REP, "deals") == {}
    said = [c.body.get("text", "") for c in bot.standin.calls_to("response_url")]
    assert any("not_in_channel" in s and "/loop export deals" in s for s in said)


@pytest.mark.parametrize("user, lang", [(REP, "en"), (REP2, "es")])
def test_the_message_with_the_files_is_in_the_readers_language(
    bot: RunningBot, user: str, lang: str
) -> None:
    seed(bot)
    export(bot, user, "deals")
    [message] = [m for m in bot.standin.messages(bot.standin.dm_channel(user)) if m.get("files")]
    head = bot.rt.catalog.text(lang, "export.done", files="", scope="").split(":")[0]
    assert message["text"].startswith(head)


def test_a_formula_in_an_account_name_stays_text(bot: RunningBot) -> None:
    """A CRM can name an account anything; Excel must not run it as a formula."""
    with Session(bot.rt.engine) as s:
        s.add(
            Deal(
                team_id=bot.slack.team_id,
                account='=HYPERLINK("http://evil.example","Acme")',
                outcome="won",
                amount=Decimal("-5"),
                rep_slack_id=REP,
                source="webhook",
                created_at=datetime(2026, 11, 30, tzinfo=UTC),
            )
        )
        s.commit()
    [deal] = export(bot, REP, "deals")["deals"]
    assert deal["account"].startswith("'=")
    assert deal["amount"] == "-5.00"  # a negative number is still a number


def test_stories_come_with_the_revenue_they_credit_scoped_like_the_rest(bot: RunningBot) -> None:
    """Stories were shared in the channel: their words go with the rows the reader may
    see; a deleted story is gone; the attributed amount is the deal's amount × share."""
    seed(bot)
    now = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    with Session(bot.rt.engine) as s:
        deal = Deal(
            team_id=bot.slack.team_id, account="Initech", outcome="won",
            amount=Decimal("48000.00"), currency="EUR", rep_slack_id=REP,
            source="command", created_at=now,
        )  # fmt: skip
        s.add(deal)
        s.flush()
        for rep, lesson, state, share in (
            (REP, "Ask for the go-live date first", "posted", 25),
            (REP2, "Bring the CFO in early", "posted", None),
            (REP, "A story taken back", "deleted", 10),
        ):
            s.add(
                Story(
                    team_id=bot.slack.team_id, rep_slack_id=rep, week="2026-W49",
                    channel="C0STORIES", lesson=lesson, did="x", happened="y",
                    deal_id=deal.id if rep == REP else None, share=share, state=state,
                    created_at=now,
                )
            )  # fmt: skip
        s.commit()
    [mine] = export(bot, REP, "stories")["stories"]
    assert mine["lesson"] == "Ask for the go-live date first"
    assert (mine["account"], mine["share_credited_pct"]) == ("Initech", "25")
    assert (mine["amount_attributed"], mine["currency"]) == ("12000.00", "EUR")
    assert [r["rep"] for r in export(bot, REP2, "stories")["stories"]] == [REP2]
    everyone = export(bot, ADMIN, "stories")["stories"]
    assert sorted(r["rep"] for r in everyone) == sorted([REP, REP2])
    assert all(r["lesson"] != "A story taken back" for r in everyone)
