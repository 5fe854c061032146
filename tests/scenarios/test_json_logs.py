"""LOG_FORMAT=json: one JSON object per line, with the workspace, person and nudge ids
of what the line is about, and never a token nor what someone typed."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import configure_logging
from tests.conftest import DEALS, MANAGER, REP, RunningBot

SECRET_WORDS = "Globex-confidential-pricing"


def test_json_lines_carry_ids_and_no_tokens_or_message_text(
    bot: RunningBot, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", log_format="json")
    capsys.readouterr()
    bot.standin.fail_next("chat.postMessage", error="account_inactive")
    event = bot.slack.message_event(
        f"Closed Lost: Globex <@{REP}> {SECRET_WORDS}", channel=DEALS, user=MANAGER
    )
    assert bot.send(bot.slack.event_request(event)).status == 200
    bot.tick()
    # A library's line with a token in it (slack_sdk logs request headers at DEBUG).
    logging.getLogger("slack_sdk").warning("Authorization: Bearer %s", bot.standin.token)

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines
    records = [json.loads(line) for line in lines]  # every line is JSON
    about_the_nudge = [r for r in records if "nudge" in r]
    assert about_the_nudge, records
    assert all(r["team"] == "T0001" and r["user"] == REP for r in about_the_nudge)
    text = "\n".join(lines)
    assert bot.standin.token not in text and "xoxb-***" in text
    assert SECRET_WORDS not in text
