"""Clicks are idempotent: a click Slack (or a person) sends twice has one effect.

Two layers. The generic one is a middleware: an exact replay of an interactive payload
(same user, action, value, message and action_ts) is acked and dropped, whatever the
listener. A double-click is two real payloads with different action_ts, so listeners
that record a choice also claim it in the database (storage.debriefs.claim_choice: the
same choice again changes nothing) and put the message's new state in place of its
buttons (`show_choice`, `put_in_place`; bot/messages/clicks.py builds it).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Built, Texts
from bot.messages.blocks import Block
from bot.messages.clicks import settle
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


async def put_in_place(
    client: AsyncWebClient,
    respond: AsyncRespond | None,
    *,
    channel: str | None,
    ts: str | None,
    built: Built,
    ephemeral: bool = False,
) -> bool:
    """Replace a message with its new state: `chat.update`, else (an ephemeral message,
    or Slack refusing: message_not_found, cant_update_message, edit_window_closed, …)
    through the click's response_url. Never raises: the choice is already recorded, so
    a message that can't change must not undo nor hide it. True when it changed."""
    if channel and ts and not ephemeral:
        try:
            await client.chat_update(channel=channel, ts=ts, **built.as_kwargs())
            return True
        except SlackApiError as e:
            log.warning("could not update the clicked message: %s", api_error(e))
        except Exception:  # noqa: BLE001 - a network failure: same as a refusal
            log.warning("could not update the clicked message", exc_info=True)
    if respond is None:
        return False
    try:
        answer = await respond(replace_original=True, **built.as_kwargs())
        # A response_url that expired answers 404 rather than raising.
        return int(getattr(answer, "status_code", 200) or 200) < 400
    except Exception:  # noqa: BLE001 - an expired response_url: the choice is kept anyway
        log.info("could not replace the clicked message either", exc_info=True)
        return False


def clicked(body: dict[str, Any]) -> tuple[str, str, str | None, str | None, bool]:
    """The clicked button's action id and text, and where its message is."""
    action = (body.get("actions") or [{}])[0]
    container = body.get("container") or {}
    text = str((action.get("text") or {}).get("text") or action.get("value") or "")
    return (
        str(action.get("action_id") or ""),
        text,
        container.get("channel_id") or (body.get("channel") or {}).get("id"),
        container.get("message_ts"),
        bool(container.get("is_ephemeral")),
    )


async def show_choice(
    t: Texts,
    client: AsyncWebClient,
    respond: AsyncRespond | None,
    body: dict[str, Any],
    *,
    choice: str | None = None,
    note: str | None = None,
    change: Sequence[Block] = (),
    whole_row: bool = True,
    says: str | None = None,
) -> bool:
    """The clicked message, settled: its clicked row becomes "You chose: …" (the button's
    own text unless `choice` says otherwise) plus `change`, the way to change it."""
    action_id, text, channel, ts, ephemeral = clicked(body)
    message = body.get("message") or {}
    built = settle(
        t,
        text=str(message.get("text") or ""),
        blocks=message.get("blocks") or [],
        action_id=action_id,
        choice=choice or text,
        note=note,
        change=change,
        whole_row=whole_row,
        says=says,
    )
    return await put_in_place(
        client, respond, channel=channel, ts=ts, built=built, ephemeral=ephemeral
    )
