"""`/loop report`, stories first: the period's stories within the reader's scope (a rep
their own, a manager their team's, an admin everyone's) — the count, each story as a link
with its rep, lesson and deal + share, the deals linked and the revenue credited to
lessons (amount × share, per currency) — then a stories column in the per-rep table.
Deleted stories never count. In the reader's language. Within Slack's limits.

Stories are shared the way reps share them (the `/loop story` modal, signed HTTP, the
stand-in); the clock is the injected one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.devkit.standin import SlackStandIn
from bot.messages import Texts
from bot.messages.blocks import MESSAGE_BLOCKS_MAX, SECTION_MAX
from bot.messages.catalog import ScriptCatalog
from bot.messages.report import STORY_LINES_MAX, story_blocks
from bot.messages.stories import MonthEntry
from bot.slack import ids
from tests.conftest import ADMIN, MANAGER, REP, REP2, BotServer, RunningBot, start_bot
from tests.scenarios.test_home import home_opened
from tests.scenarios.test_report import report, table_reps, table_row
from tests.scenarios.test_stories import (
    STORIES,
    at,
    click_on,
    know,
    modal,
    stories_in,
    submit_story,
    utc,
    win,
)
from tests.support.debrief_steps import (
    LOSS_ANSWERS,
    assert_all_block_kit_valid,
    click,
    close_deal,
    last_modal,
    set_manager,
    submit,
)

FR = "U0FR"


@pytest.fixture
def sbot(
    standin: SlackStandIn,
    clock: FakeClock,
    sqlite_url: str,
    sqlite_template: Path,
    bot_server: BotServer,
) -> Iterator[RunningBot]:
    shutil.copyfile(sqlite_template, sqlite_url.removeprefix("sqlite:///"))
    standin.add_channel(STORIES, "team-stories")
    standin.add_user(FR, name="fleur", tz="Europe/Paris", locale="fr-FR")
    standin.set_dnd(FR, dnd_enabled=False)
    env = {"STORIES_CHANNEL": "#team-stories", "REPORT_CHARTS": "off"}
    running, stop = start_bot(standin, clock, sqlite_url, extra_env=env, server=bot_server)
    yield running
    stop()


def share(
    bot: RunningBot, user: str, lesson: str, deal: int | None = None, pct: int | None = None
) -> None:
    bot.send(bot.slack.slash_command("story", user=user))
    submit_story(bot, user, modal(bot), lesson=lesson, deal=deal, share=pct)


def seed(bot: RunningBot) -> dict[str, int]:
    """REP (reports to MANAGER): Globex won $50,000 with a story crediting 40 %, a story
    without a deal, and a story crediting Globex 100 % that REP deletes. REP2 (nobody's
    report): Initech won €10,000, a story crediting 50 %. FR: a story, no deal."""
    know(bot, REP, REP2, MANAGER, FR)
    set_manager(bot, REP, MANAGER)
    at(bot, utc(2026, 12, 2, 15))
    globex = win(bot, "Globex", "$50,000")
    initech = win(bot, "Initech", "€10,000", rep=REP2)
    share(bot, REP, "Ask for the go-live date in the first meeting", globex, 40)
    share(bot, REP, "Listen more than I talk")
    share(bot, REP, "A story I took back", globex, 100)
    click_on(bot, REP, stories_in(bot)[-1], ids.STORY_DELETE)
    share(bot, REP2, "Hablar del precio al final", initech, 50)
    share(bot, FR, "Reformuler l'objection avant d'y répondre")
    return {"globex": globex, "initech": initech}


def body(message: dict[str, Any]) -> str:
    return "\n".join(
        str((b.get("text") or {}).get("text", "")) if b["type"] == "section" else str(b)
        for b in message.get("blocks", [])
    )


def stories_head(bot: RunningBot, lang: str, n: int) -> str:
    return bot.rt.catalog.text(lang, "report.stories", n=n)


def test_a_rep_sees_their_own_stories_first_with_links_deals_and_credit(sbot: RunningBot) -> None:
    seed(sbot)
    message = report(sbot, REP)
    text = body(message)
    # Stories first: right after the title and scope, before the team's totals and table.
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds[:4] == ["header", "context", "section", "section"]
    assert stories_head(sbot, "en", 2) in text
    assert text.index("go-live date") < text.index("*Team*")
    # Each story links to itself in the thread, with the rep and the deal + share.
    assert "Globex, 40% credited" in text and f"<@{REP}>" in text
    [linked] = [line for line in text.splitlines() if "go-live date" in line]
    assert linked.startswith("• <https://") and "|Ask for the go-live date" in linked
    # $50,000 × 40 % = $20,000: the monthly post's arithmetic, one deal linked.
    assert "1 deals linked · $20,000 revenue attributed" in text
    # Never another rep's story, and never a deleted one.
    assert "Hablar del precio" not in text and "Reformuler" not in text
    assert "A story I took back" not in text and "$50,000 revenue" not in text
    assert table_row(message, REP)[0] == "2"
    assert_all_block_kit_valid(sbot)


def test_a_manager_sees_the_teams_stories_and_an_admin_everyones(sbot: RunningBot) -> None:
    seed(sbot)
    team = body(report(sbot, MANAGER))
    assert stories_head(sbot, "en", 2) in team
    assert "go-live date" in team and "Hablar del precio" not in team and "€" not in team
    everyone = report(sbot, ADMIN)
    text = body(everyone)
    assert stories_head(sbot, "en", 4) in text
    # Per currency, never added up: $20,000 and €5,000 (10,000 × 50 %).
    assert "2 deals linked · €5,000, $20,000 revenue attributed" in text
    assert "Hablar del precio" in text and "Reformuler" in text
    assert "A story I took back" not in text
    assert {r: table_row(everyone, r)[0] for r in (REP, REP2, FR)} == {REP: "2", REP2: "1", FR: "1"}
    # A rep with stories and no deal is in the table too.
    assert FR in table_reps(everyone)
    # An admin narrowing to one rep sees that rep's stories only.
    one = body(report(sbot, ADMIN, f"<@{REP2}>"))
    assert stories_head(sbot, "en", 1) in one and "go-live" not in one


def test_a_rep_cannot_see_another_reps_stories(sbot: RunningBot) -> None:
    seed(sbot)
    refused = report(sbot, REP, f"<@{REP2}|sam>")
    assert "Hablar del precio" not in str(refused) and "€" not in str(refused)
    refused = report(sbot, MANAGER, f"<@{REP2}>")
    assert "Hablar del precio" not in str(refused)
    # A rep's own report counts their own stories only, whoever else shared.
    assert stories_head(sbot, "es", 1) in body(report(sbot, REP2))


def test_stories_outside_the_period_do_not_count(sbot: RunningBot) -> None:
    seed(sbot)
    at(sbot, utc(2026, 12, 12, 15))
    week = report(sbot, ADMIN, "week")
    assert sbot.rt.catalog.text("en", "report.no_stories") in str(week["blocks"])
    assert stories_head(sbot, "en", 4) in body(report(sbot, ADMIN, "month"))


@pytest.mark.parametrize(
    ("user", "lang", "word", "n", "credit"),
    [
        (REP, "en", "week", 2, "$20,000"),
        (REP2, "es", "semana", 1, "5.000 €"),
        (FR, "fr", "semaine", 1, None),
    ],
)
def test_the_stories_are_in_the_readers_language(
    sbot: RunningBot, user: str, lang: str, word: str, n: int, credit: str | None
) -> None:
    seed(sbot)
    message = report(sbot, user, word)
    text = body(message)
    catalog = sbot.rt.catalog
    assert stories_head(sbot, lang, n) in text
    [table] = [b for b in message["blocks"] if b["type"] == "table"]
    assert table["rows"][0][1]["text"] == catalog.text(lang, "report.col_stories")
    if credit is not None:
        assert credit.replace(" ", "\u00a0") in text.replace(" ", "\u00a0")
    else:
        assert catalog.text(lang, "report.stories_totals", deals=0, revenue="—") in text
    assert_all_block_kit_valid(sbot)


def entries(n: int, lesson_length: int) -> list[MonthEntry]:
    lesson = ("Ask about the go-live date\nbefore the price <b>& more " * 20)[:lesson_length]
    return [
        MonthEntry(
            f"U0R{i:05}",
            f"{i}. {lesson}",
            f"https://acme.slack.com/archives/C0STORIES/p{1700000000 + i}000100",
            f"Account {i}",
            40,
            Decimal("1000"),
            "USD",
            i,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_many_long_stories_fit_slacks_limits_with_and_n_more(lang: str) -> None:
    t = Texts(ScriptCatalog.load(None), lang)
    blocks = story_blocks(t, entries(500, 300))
    assert len(blocks) <= MESSAGE_BLOCKS_MAX
    head, links = (b["text"]["text"] for b in blocks)
    assert len(head) <= SECTION_MAX and len(links) <= SECTION_MAX
    shown = [line for line in links.splitlines() if line.startswith("• ")]
    # One line a story, even when its words ran over several.
    assert len(shown) == len(links.splitlines()) - 1
    assert 0 < len(shown) <= STORY_LINES_MAX
    assert links.splitlines()[-1] == t("report.stories_more", n=500 - len(shown))
    # The rep's words stay text: no raw <b> or & reaches Slack's mrkdwn.
    assert "<b>" not in links and "&lt;b&gt;&amp; more" in links
    # 500 deals × 1,000 × 40 %: the revenue counts every story, not only those shown.
    assert "200,000" in head.replace("\u202f", ",").replace("\u00a0", ",").replace(".", ",")
    short = story_blocks(t, entries(3, 20))[1]["text"]["text"]
    assert len(short.splitlines()) == 3 and "…" not in short.splitlines()[-1][:2]


@pytest.fixture
def dbbot(
    standin: SlackStandIn, clock: FakeClock, db_url: str, bot_server: BotServer
) -> Iterator[RunningBot]:
    """As `sbot`, on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""
    standin.add_channel(STORIES, "team-stories")
    standin.add_user(FR, name="fleur", tz="Europe/Paris", locale="fr-FR")
    standin.set_dnd(FR, dnd_enabled=False)
    env = {"STORIES_CHANNEL": STORIES, "REPORT_CHARTS": "off"}
    running, stop = start_bot(standin, clock, db_url, extra_env=env, server=bot_server)
    yield running
    stop()


def test_stories_first_and_the_counts_on_each_database(dbbot: RunningBot) -> None:
    """The queries the database does for the report (stories with their deals, a logged
    debrief's fields read out of its JSON, days to log) agree on SQLite and PostgreSQL."""
    seed(dbbot)
    close_deal(dbbot, "lost", "Hooli", REP)
    dbbot.rt.clock.advance(timedelta(days=2))
    click(dbbot, REP, "loss_mode_helped")
    click(dbbot, REP, "loss_log_open")
    submit(dbbot, REP, last_modal(dbbot), LOSS_ANSWERS)
    click(dbbot, REP, "log_confirm")
    message = report(dbbot, ADMIN)
    text = body(message)
    assert stories_head(dbbot, "en", 4) in text
    assert "2 deals linked · €5,000, $20,000 revenue attributed" in text
    stories, won, lost, _nd, logged, days, *_ = table_row(message, REP)
    assert (stories, won, lost, logged, days) == ("2", "1", "1", "1/2", "2.0")
    assert table_row(message, REP2)[:2] == ["1", "1"]
    # The rep's own Home lists their stories; the manager's counts them.
    for user in (REP, MANAGER):
        assert dbbot.send(home_opened(dbbot, user)).status == 200
    published = {
        c.body["user_id"]: str(c.body["view"]) for c in dbbot.standin.calls_to("views.publish")
    }
    assert "go-live date" in published[REP] and "go-live date" not in published[MANAGER]
    assert dbbot.rt.catalog.text("en", "home.team_stories", n=2) in published[MANAGER]
