"""Who the bot is in its workspace."""

from __future__ import annotations

import logging

from bot.runtime import Runtime

log = logging.getLogger(__name__)


async def identify(rt: Runtime) -> None:
    """Ask Slack who we are (auth.test): fails fast on a bad token, and tells the
    listeners our own bot ids so they ignore the bot's own posts. In OAuth mode there
    is no one workspace: each request's authorize step says who we are there."""
    if rt.tokens is not None:
        log.info("OAuth mode: serving the workspaces that installed the app")
        return
    resp = await rt.client.auth_test()
    rt.team_id = resp.get("team_id")
    rt.bot_user_id = resp.get("user_id")
    log.info("connected to workspace %s as %s", resp.get("team"), resp.get("user"))
