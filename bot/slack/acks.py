"""Work a listener hands past its ack.

Listeners run before Bolt sends the HTTP response (process_before_response), so every
Slack call a listener awaits delays the ack. A modal's `views.open` has no fallback and
no need to be in the ack: the trigger id stays valid for 3 s from the click, so it is
sent right after the ack instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from bot.slack.errors import api_error

log = logging.getLogger(__name__)


def open_view_after_ack(
    rt: Runtime, client: AsyncWebClient, trigger_id: str | None, view: dict[str, Any], *, name: str
) -> asyncio.Task[Any]:
    """`views.open` as tracked background work; Slack refusing it (an expired trigger)
    is one log line, since the person's click is all there is to retry."""

    async def run() -> None:
        try:
            await client.views_open(trigger_id=trigger_id or "", view=view)
        except SlackApiError as e:
            log.warning("modal %s did not open: %s", name, api_error(e))

    return rt.spawn(run(), name=f"views.open:{name}")
