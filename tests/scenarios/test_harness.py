"""The harness shares its servers between tests; no test may see what the one before did.

The first test leaves as much behind as it can (rows, stand-in users and faults, caches,
a moved clock, a hook, the CLI's logging set-up); the next one, on the same server, must
find none of it. Run alone, the second test still checks the clean slate."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select
from sqlmodel import Session, SQLModel

from bot.cli import configure_logging
from bot.clock import FakeClock
from bot.devkit.standin import RecordedCall, SlackStandIn
from tests.conftest import DEALS, MANAGER, REP, RunningBot

# What the first test saw, for the second to compare (same module, same process).
_FIRST: dict[str, Any] = {}


def closed_lost(bot: RunningBot) -> Any:
    return bot.slack.event_request(
        bot.slack.message_event(f"Closed Lost: Globex <@{REP}>", channel=DEALS, user=MANAGER)
    )


def row_counts(bot: RunningBot) -> dict[str, int]:
    with Session(bot.rt.engine) as session:
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in SQLModel.metadata.sorted_tables
        }


def dms_sent(bot: RunningBot) -> list[RecordedCall]:
    return [c for c in bot.standin.calls_to("chat.postMessage") if c.ok]


def test_a_first_test_leaves_rows_caches_faults_and_a_hook_behind(
    bot: RunningBot, standin: SlackStandIn, clock: FakeClock
) -> None:
    bot.send(closed_lost(bot))
    assert len(dms_sent(bot)) == 1
    assert sum(row_counts(bot).values()) > 0
    assert bot.rt.locales and bot.rt.dm_channels

    standin.add_user("U0EXTRA", name="extra")
    standin.set_dnd(REP, dnd_enabled=True)
    standin.fail_next("chat.postMessage", error="channel_not_found", times=50)
    standin.fail_connection_next("conversations.open", times=50)
    standin.fail_next("users.info", status=500, times=50)
    standin.set_rate_limit("auth.test", 0.001)
    standin.on_call = lambda call: _FIRST.setdefault("hooked", []).append(call.method)
    clock.advance(timedelta(days=3))
    root = logging.getLogger()
    _FIRST.update(root_level=root.level)
    configure_logging("DEBUG")  # what `feedback-loop run` does when a test runs it in-process
    _FIRST.update(url=bot.url, rt=bot.rt, standin=standin, api_url=standin.api_url)


def test_the_next_test_starts_on_the_same_server_with_a_clean_slate(
    bot: RunningBot, standin: SlackStandIn, clock: FakeClock
) -> None:
    if _FIRST:
        # The point of the harness: same server, everything else new.
        assert bot.url == _FIRST["url"] and standin.api_url == _FIRST["api_url"]
        assert bot.rt is not _FIRST["rt"] and standin is not _FIRST["standin"]
    assert row_counts(bot) == dict.fromkeys(row_counts(bot), 0)
    assert bot.rt.locales == {} and bot.rt.dm_channels == {} and bot.rt.person_locks == {}
    assert clock.now() == FakeClock().now()
    assert [c.method for c in standin.calls] == ["auth.test"]  # the bot's own start-up
    if _FIRST:
        root = logging.getLogger()
        assert root.level == _FIRST["root_level"]
        assert not any(type(h).__module__ == "logging" for h in root.handlers)

    # No fault from before: the same post reaches the rep, once, right away.
    bot.send(closed_lost(bot))
    assert len(dms_sent(bot)) == 1
    assert standin.calls_to("users.info") and all(c.ok for c in standin.calls_to("users.info"))
    assert "hooked" not in _FIRST or "chat.postMessage" not in _FIRST["hooked"]

    # Users and Do Not Disturb are the defaults again.
    web = WebClient(token=standin.token, base_url=standin.api_url)
    with pytest.raises(SlackApiError) as gone:
        web.users_info(user="U0EXTRA")
    assert gone.value.response["error"] == "user_not_found"
    assert web.dnd_info(user=REP)["dnd_enabled"] is False
