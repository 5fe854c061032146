"""The app factory: a real Bolt `AsyncApp` wired to our client, settings and listeners."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

from bot.runtime import Runtime
from handlers import register_all

log = logging.getLogger(__name__)


def build_app(rt: Runtime) -> AsyncApp:
    settings = rt.settings
    app = AsyncApp(
        # Without a name Bolt names the app after its caller's file through
        # inspect.stack(), which reads the source of every frame on the stack: a good
        # part of building the app.
        name="feedback-loop",
        client=rt.client,
        signing_secret=settings.slack_signing_secret or "",
        # Listeners ack at once and hand slow work to rt.spawn(); running them before
        # the response lets us ack with content (help, field errors) without Bolt's
        # polling loop, and errors in the ack path become a 500 that Slack retries.
        process_before_response=True,
        request_verification_enabled=not settings.socket_mode,
        logger=logging.getLogger("slack_bolt"),
    )
    register_all(app, rt)
    return app


async def identify(rt: Runtime) -> None:
    """Ask Slack who we are (auth.test): fails fast on a bad token, and tells the
    listeners our own bot ids so they ignore the bot's own posts."""
    resp = await rt.client.auth_test()
    rt.team_id = resp.get("team_id")
    rt.bot_user_id = resp.get("user_id")
    log.info("connected to workspace %s as %s", resp.get("team"), resp.get("user"))
