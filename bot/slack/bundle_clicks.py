"""The middleware that notes which section of a bundled DM a click came from, so the
listener's chat.update answers that section only (bot/slack/bundles.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.bundles import SectionAwareClient, bundle_click, note_click


def register(app: AsyncApp) -> None:
    @app.middleware
    async def note_bundle_section(
        body: dict[str, Any], client: AsyncWebClient, next: Callable[[], Awaitable[None]]
    ) -> None:
        click = bundle_click(body)
        if click is not None:
            note_click(click)
            if isinstance(client, SectionAwareClient):
                known = client.bundles.get((click.channel, click.ts))
                # The payload's blocks are Slack's current message: the freshest copy.
                client.remember(click if known is None or click.blocks else known)
        await next()
