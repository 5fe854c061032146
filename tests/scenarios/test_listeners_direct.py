"""Listeners are module-level functions that get the runtime from Bolt's context, so a
test can call one directly, without a signed request; and the one time-zone helper
falls back to UTC instead of failing a nudge."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bot.clock import zone_of
from bot.runtime import RT
from handlers import concern
from tests.conftest import REP, RunningBot


def test_a_modal_listener_answers_when_called_directly(bot: RunningBot) -> None:
    # A reader whose language is known answers without Slack or the database.
    bot.rt.locales[REP] = "es-ES"
    acks: list[dict[str, Any]] = []

    async def ack(**answer: Any) -> None:
        acks.append(answer)

    body = {
        "type": "view_submission",
        "user": {"id": REP},
        "team": {"id": bot.rt.team_id or "T0TEST"},
        "view": {"callback_id": "concern_modal", "private_metadata": "{}", "state": {}},
    }
    asyncio.run(concern.concern_submitted(ack, body, {RT: bot.rt}))  # type: ignore[arg-type]
    es = bot.rt.catalog.text
    assert acks == [
        {
            "response_action": "errors",
            "errors": {
                "account": es("es", "concern.error_account"),
                "concern": es("es", "concern.error_concern"),
            },
        }
    ]
    assert es("es", "concern.error_account") != es("en", "concern.error_account")


def test_one_time_zone_helper_falls_back_to_utc() -> None:
    noon = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert noon.astimezone(zone_of("Europe/Madrid")).hour == 13
    assert noon.astimezone(zone_of("America/New_York")).hour == 7
    for unknown in (None, "", "Mars/Olympus_Mons", "../etc/passwd"):
        assert zone_of(unknown).key == "UTC"
