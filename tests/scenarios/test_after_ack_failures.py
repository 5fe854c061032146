"""Work that runs after the ack and fails tells the person who clicked, in their language,
that nothing was lost — by default, without each listener having to ask for it."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import REP, REP2, RunningBot
from tests.support.debrief_steps import click, close_deal


@pytest.mark.parametrize(("rep", "lang"), [(REP, "en"), (REP2, "es")])
def test_a_failure_after_the_ack_tells_the_clicker(
    bot: RunningBot, rep: str, lang: str, caplog: pytest.LogCaptureFixture
) -> None:
    close_deal(bot, "lost", "Globex", rep)
    click(bot, rep, "loss_mode_heard")
    # Slack fails every post while the debrief script is being sent.
    bot.standin.fail_next("chat.postMessage", status=500, times=5)
    before = len(bot.standin.calls_to("response_url"))
    with caplog.at_level(logging.ERROR):
        click(bot, rep, "debrief_start")
    said = [c.body.get("text") for c in bot.standin.calls_to("response_url")[before:]]
    assert said == [bot.rt.catalog.text(lang, "errors.generic")]
    assert any("failed" in r.getMessage() for r in caplog.records)


def test_work_that_succeeds_says_nothing_extra(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_heard")
    before = len(bot.standin.calls_to("response_url"))
    click(bot, REP, "debrief_start")
    generic = bot.rt.catalog.text("en", "errors.generic")
    said = [c.body.get("text") for c in bot.standin.calls_to("response_url")[before:]]
    assert generic not in said
