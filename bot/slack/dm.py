"""The one way to find a person's DM with the bot.

`conversations.open` is Tier 3 and its answer never changes for a (workspace, person)
pair, so the channel is kept on the runtime: a burst of nudges, or a reply right after
one, opens each DM once."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime


async def open_dm(
    rt: Runtime, team_id: str, user_id: str, *, client: AsyncWebClient | None = None
) -> str:
    """The DM channel id. `client`: the caller's own (the dispatcher's does not wait out
    429s itself); the runtime's by default."""
    key = (team_id, user_id)
    channel = rt.dm_channels.get(key)
    if channel is None:
        opened = await (client or rt.client).conversations_open(users=user_id)
        channel = str(opened["channel"]["id"])
        rt.dm_channels[key] = channel
    return channel
