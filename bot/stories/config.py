"""The stories channel's settings: STORIES_CHANNEL, STORIES_LANGUAGE and WORKSPACE_TZ
from the environment, overridden by what an admin set in Slack (`/loop settings stories
...`, stored in the database and read on every use, so a change applies at once on
every replica without a restart). A `#name` is resolved to its id once and remembered."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.runtime import Runtime
from bot.slack.errors import api_error
from storage import stories as store

log = logging.getLogger(__name__)

# A #name that did not resolve is looked up again after this long, not every tick.
RESOLVE_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class Config:
    channel: str | None  # a channel id
    language: str
    tz: str
    from_env: bool = False


async def resolve_name(rt: Runtime, name: str) -> str | None:
    """A channel's id from its name (conversations.list, public and private, a few pages)."""
    cursor: str | None = None
    for _ in range(20):
        resp = await rt.client.conversations_list(
            types="public_channel,private_channel",
            exclude_archived=True,
            limit=200,
            cursor=cursor,
        )
        for channel in resp.get("channels") or []:
            if str(channel.get("name") or "").lower() == name:
                return str(channel["id"])
        cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            return None
    return None


async def _env_channel(rt: Runtime, team_id: str, stored: dict[str, dict[str, Any]]) -> str | None:
    env = rt.settings.stories_channel
    if env is None or not env.startswith("#"):
        return env
    known = stored.get(store.RESOLVED_NAME) or {}
    if known.get("name") == env:
        if known.get("id"):
            return str(known["id"])
        checked = datetime.fromisoformat(str(known.get("checked_at")))
        if rt.clock.now() - checked < RESOLVE_RETRY:
            return None
    try:
        found = await resolve_name(rt, env[1:])
    except SlackApiError as e:
        log.warning("could not look up STORIES_CHANNEL %s: %s", env, api_error(e))
        found = None
    if found is None:
        log.warning("STORIES_CHANNEL %s: no such channel the bot can see", env)
    value = {"name": env, "id": found, "checked_at": rt.clock.now().isoformat()}
    await rt.tx(
        store.put_setting,
        team_id=team_id,
        key=store.RESOLVED_NAME,
        value=value,
        by=None,
        now=rt.clock.now(),
    )
    return found


async def config_of(rt: Runtime, team_id: str) -> Config:
    stored = await rt.tx(store.get_settings, write=False, team_id=team_id)
    language = str((stored.get(store.LANGUAGE) or {}).get("value") or rt.settings.stories_language)
    tz = str((stored.get(store.TIMEZONE) or {}).get("value") or rt.settings.workspace_tz)
    if store.CHANNEL in stored:
        channel = stored[store.CHANNEL].get("id")
        return Config(str(channel) if channel else None, language, tz)
    return Config(await _env_channel(rt, team_id, stored), language, tz, from_env=True)
