"""A won deal -> "Log what they said" -> a modal for why they chose us, what appealed,
a quote with the client's permission, and strengths the rep hadn't seen."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import REP, RunningBot
from tests.support.debrief_steps import (
    action_ids,
    assert_all_block_kit_valid,
    click,
    close_deal,
    dm_messages,
    last_modal,
    runs,
    submit,
)

WIN: dict[str, Any] = {
    "why": "You were the only ones who asked about their rollout",
    "appealed": "The onboarding plan",
    "almost": "Price, at first",
    "quote": "They understood our business in one meeting.",
    "quote_ok": True,
    "strengths": "Our follow-up notes",
}


def cat(bot: RunningBot, key: str, **values: object) -> str:
    return bot.rt.catalog.text("en", key, **values)


def test_win_log_modal_saves_reasons_quote_permission_and_strengths(bot: RunningBot) -> None:
    close_deal(bot, "won", "Initech", REP)
    click(bot, REP, "win_log_open")
    view = last_modal(bot)
    assert view["callback_id"] == "win_log"
    # First the line saying who reads it (tests/scenarios/test_privacy.py), then the fields.
    assert view["blocks"][0]["block_id"] == "audience"
    ids = [b["block_id"] for b in view["blocks"][1:]]
    # No team tag yet: the quote's tag is a new one typed in (tests/scenarios/test_quotes.py).
    assert ids == ["why", "appealed", "almost", "quote", "quote_ok", "quote_tag_new", "strengths"]
    resp = submit(bot, REP, view, WIN)
    assert not (resp.json() or {}).get("response_action")
    [run] = runs(bot, "win_debrief")
    assert run.state == "logged"
    assert run.data["win"] == {**WIN, "quote_tag": ""}
    saved = dm_messages(bot, REP)[-1]
    assert saved["text"] == cat(bot, "win_log.saved_quote", account="Initech")
    assert action_ids(saved) == ["win_log_open", "privacy_share", "lesson_keep"]
    assert_all_block_kit_valid(bot)


def test_win_answers_can_be_edited(bot: RunningBot) -> None:
    close_deal(bot, "won", "Initech", REP)
    click(bot, REP, "win_log_open")
    submit(bot, REP, last_modal(bot), WIN)
    click(bot, REP, "win_log_open")  # the Edit button on the saved message
    view = last_modal(bot)
    why = next(b for b in view["blocks"] if b["block_id"] == "why")
    assert why["element"]["initial_value"] == WIN["why"]
    quote_ok = next(b for b in view["blocks"] if b["block_id"] == "quote_ok")
    assert quote_ok["element"]["initial_options"][0]["value"] == "yes"
    submit(bot, REP, view, {**WIN, "quote_ok": False, "appealed": "Speed"})
    [run] = runs(bot, "win_debrief")
    assert run.data["win"]["appealed"] == "Speed" and run.data["win"]["quote_ok"] is False
    assert dm_messages(bot, REP)[-1]["text"] == cat(bot, "win_log.saved", account="Initech")


@pytest.mark.parametrize(
    "change, field",
    [({"why": ""}, "why"), ({"appealed": "  "}, "appealed"), ({"quote": ""}, "quote")],
)
def test_missing_required_win_answers_return_field_errors(
    bot: RunningBot, change: dict[str, str], field: str
) -> None:
    close_deal(bot, "won", "Initech", REP)
    click(bot, REP, "win_log_open")
    # A ticked permission with no quote is an error on the quote: nothing to reuse.
    body = submit(bot, REP, last_modal(bot), {**WIN, **change}).json()
    assert body == {
        "response_action": "errors",
        "errors": {field: cat(bot, "errors.required_field")},
    }
    [run] = runs(bot, "win_debrief")
    assert "win" not in run.data
