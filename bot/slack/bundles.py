"""Answering one section of a bundled DM without touching the others.

A bundle (bot/messages/bundle.py) is one Slack message holding several nudges, each
with its own buttons. The listeners that answer a click replace "the clicked message"
with their answer (chat.update on the container's ts), as they do for a DM of their
own. Here, in one place, such an update is narrowed to the clicked section:

- a middleware notes, for a click on a bundle, which section it came from, in a context
  variable that the listener (and the work it spawns after the ack) sees;
- the Web API client's chat.update, for that message, replaces that section's blocks
  and keeps the others (and the bundle's notification text).

A form opened from a section and submitted later (the evening reflection) updates the
message outside any click: the client also remembers, per bundle message, the last
section clicked and the blocks it last saw, for a while. That memory is per process:
behind several HTTP replicas, a form submitted to another replica than the click
replaces the whole bundle with its answer, as before bundles existed.
"""

from __future__ import annotations

import contextvars
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.messages.blocks import Block
from bot.messages.bundle import as_dicts, merge_section, section_of

log = logging.getLogger(__name__)

REMEMBERED = 2_000


@dataclass(frozen=True)
class BundleClick:
    channel: str
    ts: str
    section: int
    blocks: list[Block]
    text: str


_clicked: contextvars.ContextVar[BundleClick | None] = contextvars.ContextVar(
    "bundle_click", default=None
)


def bundle_click(body: dict[str, Any]) -> BundleClick | None:
    """The section of a bundle a block_actions payload came from, if it did."""
    if body.get("type") != "block_actions":
        return None
    action = (body.get("actions") or [{}])[0]
    section = section_of(action.get("block_id"))
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or message.get("ts")
    if not section or not channel or not ts:
        return None
    return BundleClick(
        str(channel),
        str(ts),
        section,
        as_dicts(message.get("blocks")),
        str(message.get("text") or ""),
    )


class SectionAwareClient(AsyncWebClient):
    """The app's Web API client: chat.update of a bundle answers one section."""

    def __init__(
        self,
        *args: Any,
        bundles: OrderedDict[tuple[str, str], BundleClick] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.bundles: OrderedDict[tuple[str, str], BundleClick] = (
            OrderedDict() if bundles is None else bundles
        )

    def like(self, other: AsyncWebClient) -> SectionAwareClient:
        """`other` (Bolt's client for one request, which Bolt makes afresh from the app's
        for every request) with this client's memory of bundles."""
        return SectionAwareClient(
            token=other.token,
            base_url=other.base_url,
            timeout=other.timeout,
            headers=dict(other.headers),
            retry_handlers=list(other.retry_handlers),
            bundles=self.bundles,
        )

    def remember(self, click: BundleClick) -> None:
        key = (click.channel, click.ts)
        self.bundles[key] = click
        self.bundles.move_to_end(key)
        while len(self.bundles) > REMEMBERED:
            self.bundles.popitem(last=False)

    def _click_for(self, channel: object, ts: object) -> BundleClick | None:
        click = _clicked.get()
        if click is not None and (click.channel, click.ts) == (str(channel), str(ts)):
            # The latest blocks this process saw win over the click's own (a listener
            # may update twice: a "working…" and then the answer).
            return self.bundles.get((click.channel, click.ts)) or click
        return self.bundles.get((str(channel), str(ts)))

    async def chat_update(self, **kwargs: Any) -> AsyncSlackResponse:
        click = self._click_for(kwargs.get("channel"), kwargs.get("ts"))
        blocks = kwargs.get("blocks")
        if click is not None and isinstance(blocks, list):
            merged = merge_section(click.blocks, click.section, as_dicts(blocks))
            if merged is not None:
                kwargs = {**kwargs, "blocks": merged, "text": click.text or kwargs.get("text")}
                self.remember(
                    BundleClick(click.channel, click.ts, click.section, merged, click.text)
                )
        return await super().chat_update(**kwargs)


def note_click(click: BundleClick) -> None:
    """For the listener of this click and the work it spawns (they copy the context)."""
    _clicked.set(click)
