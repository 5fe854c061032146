"""`/loop prep <account>`: the cheat sheet, ephemeral in the ack, with what the team
already knows about the account."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.devkit.standin import check_message_blocks
from bot.messages import Texts
from bot.messages.catalog import ScriptCatalog
from bot.messages.prep import AccountKnowledge, prep_sheet
from storage.db import unit_of_work
from storage.models import Deal, RitualRun
from tests.conftest import REP, REP2, RunningBot

TEAM = "T0001"
WHEN = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def add(bot: RunningBot, *rows: Any) -> None:
    with unit_of_work(bot.rt.engine) as session:
        for row in rows:
            session.add(row)


def prep(bot: RunningBot, text: str, user: str = REP) -> dict[str, Any]:
    resp = bot.send(bot.slack.slash_command(text, user=user))
    assert resp.status == 200
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    assert check_message_blocks(body["blocks"]) == []
    return dict(body)


def run(
    ritual: str, state: str, data: dict[str, Any], account: str = "Globex", user: str = REP
) -> RitualRun:
    """The asker's own notes (another rep's are private: tests/scenarios/test_privacy.py)."""
    return RitualRun(
        team_id=TEAM,
        ritual=ritual,
        user_slack_id=user,
        account=account,
        state=state,
        data=data,
        created_at=WHEN,
        updated_at=WHEN,
    )


def test_prep_returns_the_three_stages_and_says_nothing_is_logged_yet(bot: RunningBot) -> None:
    body = prep(bot, "prep Initech")
    blocks = json.dumps(body["blocks"], ensure_ascii=False)
    for key in ("prep.opener", "prep.exchange", "prep.closer"):
        assert json.dumps(bot.rt.catalog.text("en", key), ensure_ascii=False)[1:40] in blocks
    assert "Nothing logged for *Initech* yet" in blocks
    # Answered in the ack: nothing is posted or sent.
    assert bot.standin.calls_to("chat.postMessage") == []
    assert bot.standin.calls_to("response_url") == []


def test_prep_shows_the_last_debrief_open_concerns_and_the_tee_up(bot: RunningBot) -> None:
    add(
        bot,
        Deal(team_id=TEAM, account="Globex", outcome="lost", rep_slack_id=REP2, created_at=WHEN),
        run(
            "loss_debrief",
            "logged",
            {
                "client": {
                    "missed": "We never showed the rollout plan",
                    "needs": "fast start",
                    "solution": "standard plan",
                    "gap": "No onboarding team",
                    "takeaways": "Show the rollout plan early\nBring the onboarding lead",
                }
            },
        ),
        run("concern", "open", {"concern": "Worried about data migration"}, account="GLOBEX"),
        run("concern", "closed", {"concern": "Price"}),
        run("tee_up", "agreed", {"agreed": True}, account="globex"),
    )
    body = prep(bot, "prep  globex ")
    blocks = json.dumps(body["blocks"], ensure_ascii=False)
    assert "What we know about globex" in blocks
    assert "*Last outcome:* lost on November 2, 2026" in blocks
    assert "We never showed the rollout plan" in blocks
    assert "No onboarding team" in blocks
    assert "• Show the rollout plan early\\n• Bring the onboarding lead" in blocks
    assert "Worried about data migration" in blocks and "Price" not in blocks
    assert "agreed to a short debrief" in blocks
    assert "Nothing logged" not in blocks


def test_prep_shows_what_a_won_client_said_about_us(bot: RunningBot) -> None:
    add(
        bot,
        run(
            "win_debrief",
            "logged",
            {"win": {"why": "fast answers", "quote": "They just get it", "quote_ok": True}},
        ),
    )
    blocks = json.dumps(prep(bot, "prep Globex")["blocks"], ensure_ascii=False)
    assert "They just get it" in blocks


def test_prep_without_an_account_says_what_to_type(bot: RunningBot) -> None:
    body = bot.send(bot.slack.slash_command("prep", user=REP)).json()
    assert body["response_type"] == "ephemeral"
    assert "/loop prep <account>" in body["text"]


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_prep_sheet_is_valid_block_kit_in_every_language(lang: str) -> None:
    t = Texts(ScriptCatalog.load(), lang)
    known = AccountKnowledge(
        outcome="no_decision",
        outcome_date="2026-11-02",
        client={"missed": "x" * 4000, "gap": "gap", "takeaways": ["one", "two"]},
        win={"why": "fast", "quote": "great", "quote_ok": False},
        concerns=[("price", "2026-11-01")] * 20,
        teed_up=True,
    )
    for sheet in (
        prep_sheet(t, account="Acme", known=known),
        prep_sheet(t, account="Acme", known=AccountKnowledge()),
    ):
        assert check_message_blocks(sheet.blocks) == []
