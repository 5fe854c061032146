"""The middleware that notes which section of a bundled DM a click came from, so the
listener's chat.update answers that section only (bot/slack/bundles.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.runtime import rt_of
from bot.slack.bundles import SectionAwareClient, bundle_click, note_click


def register(app: AsyncApp) -> None:
    @app.middleware
    async def note_bundle_section(
        body: dict[str, Any],
        context: AsyncBoltContext,
        next: Callable[[], Awaitable[None]],
    ) -> None:
        shared = rt_of(context).client
        click = bundle_click(body)
        if isinstance(shared, SectionAwareClient) and (
            click is not None or body.get("type") == "view_submission"
        ):
            if click is not None:
                note_click(click)
                shared.remember(click)
            # Bolt hands each listener a client it made for this request: one that
            # answers a bundle's section instead, sharing what the app's client knows.
            context["client"] = shared.like(context.client)
        await next()
