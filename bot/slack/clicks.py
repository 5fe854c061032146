"""Clicks are idempotent: a click Slack (or a person) sends twice has one effect.

Two layers. The generic one is a middleware: an exact replay of an interactive payload
(same user, action, value, message and action_ts) is acked and dropped, whatever the
listener. A double-click is two real payloads with different action_ts, so listeners
that record a choice also claim it in the database (storage.debriefs.claim_choice: the
same choice again changes nothing) and show it on the clicked message (`show_choice`).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Texts
from bot.messages.clicks import with_choice
from bot.slack.errors import api_error

log = logging.getLogger(__name__)

# Slack sends a click once; a replay comes within seconds (a proxy retry, a client
# re-sending). Ten minutes of memory is ample and bounded.
REPLAY_WINDOW_SECONDS = 600.0
REPLAY_MEMORY = 20_000

ClickKey = tuple[str, ...]


class SeenClicks:
    """Keys of recent interactive payloads, forgotten after a window."""

    def __init__(
        self,
        window: float = REPLAY_WINDOW_SECONDS,
        limit: int = REPLAY_MEMORY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.limit = limit
        self.clock = clock
        self._seen: OrderedDict[ClickKey, float] = OrderedDict()

    def first_time(self, key: ClickKey) -> bool:
        now = self.clock()
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at < self.window and len(self._seen) < self.limit:
                break
            del self._seen[oldest]
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


def click_key(body: dict[str, Any]) -> ClickKey | None:
    """What makes a block_actions payload the same click; None for other requests."""
    if body.get("type") != "block_actions":
        return None
    action = (body.get("actions") or [{}])[0]
    container = body.get("container") or {}
    selected = action.get("selected_option") or {}
    return (
        str((body.get("user") or {}).get("id") or ""),
        str(action.get("action_id") or ""),
        str(action.get("value") or selected.get("value") or ""),
        str(container.get("message_ts") or container.get("view_id") or ""),
        str(action.get("action_ts") or ""),
    )


def register(app: AsyncApp) -> SeenClicks:
    seen = SeenClicks()

    @app.middleware
    async def drop_replayed_clicks(
        body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        key = click_key(body)
        if key is not None and not seen.first_time(key):
            log.info("dropped a replayed click on %s", key[1])
            return BoltResponse(status=200, body="")
        await next()
        return None

    return seen


# -- per-listener choices ------------------------------------------------------------------


async def show_choice(
    t: Texts, client: AsyncWebClient, respond: AsyncRespond, body: dict[str, Any]
) -> None:
    """Show the choice made (its button's text) on the clicked message, under its buttons."""
    action = (body.get("actions") or [{}])[0]
    message = body.get("message") or {}
    container = body.get("container") or {}
    choice = str((action.get("text") or {}).get("text") or action.get("value") or "")
    built = with_choice(
        t,
        text=str(message.get("text") or ""),
        blocks=message.get("blocks") or [],
        action_id=str(action.get("action_id") or ""),
        choice=choice,
    )
    channel, ts = container.get("channel_id"), container.get("message_ts")
    if channel and ts and not container.get("is_ephemeral"):
        try:
            await client.chat_update(channel=channel, ts=ts, **built.as_kwargs())
            return
        except SlackApiError as e:
            log.warning("could not show the choice on the message: %s", api_error(e))
    if body.get("response_url"):
        await respond(replace_original=True, **built.as_kwargs())
