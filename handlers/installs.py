"""OAuth mode: a workspace leaves. `app_uninstalled` and `tokens_revoked` (its bot
token) delete that workspace's tokens at once and mark it uninstalled: nothing more is
sent there (its pending nudges are skipped), and after UNINSTALL_GRACE_DAYS a planner
deletes every row it has. Installing again within the grace period keeps everything.
An org that installed org-wide (Enterprise Grid) leaves the same way: the org's tokens
at once, and every workspace of it seen so far is marked, so the purge covers each.

With SLACK_BOT_TOKEN (one workspace) the events are only logged: the token is the
operator's to remove, and the data stays theirs."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.runtime import Runtime, rt_of
from storage import workspaces

log = logging.getLogger(__name__)

PURGE_EVERY = timedelta(hours=1)


async def workspace_left(rt: Runtime, team_id: str, why: str) -> None:
    """Tokens gone now; the data after the grace period."""
    if rt.tokens is None:
        log.warning("%s in workspace %s (single-workspace mode: nothing deleted)", why, team_id)
        return
    gone = await rt.db(rt.tokens.store.delete_team, team_id)
    rt.tokens.forget(team_id)
    if await rt.tokens.installation(team_id) is not None:
        # Enterprise Grid: its org's org-wide install still serves it.
        log.warning(
            "%s in workspace %s: %d token row(s) deleted; its org's install still serves it",
            why,
            team_id,
            gone,
        )
        return
    await rt.tx(workspaces.mark_uninstalled, team_id=team_id, now=rt.clock.now())
    log.warning(
        "%s in workspace %s: %d token row(s) deleted; its data goes in %d day(s)",
        why,
        team_id,
        gone,
        rt.settings.uninstall_grace_days,
    )


async def org_left(rt: Runtime, enterprise_id: str, why: str) -> None:
    """The org's org-wide install is gone: its tokens now; the data of every workspace of
    the org (but one with an install of its own) after the grace period."""
    if rt.tokens is None:
        log.warning("%s in org %s (single-workspace mode: nothing deleted)", why, enterprise_id)
        return
    gone = await rt.db(rt.tokens.store.delete_org, enterprise_id)
    rt.tokens.forget_org(enterprise_id)
    teams = await rt.tx(workspaces.of_org, write=False, enterprise_id=enterprise_id)
    left = []
    for team_id in teams:
        rt.tokens.forget(team_id)
        if await rt.tokens.installation(team_id) is None:
            await rt.tx(workspaces.mark_uninstalled, team_id=team_id, now=rt.clock.now())
            left.append(team_id)
    log.warning(
        "%s in org %s (org-wide install): %d token row(s) deleted; %s's data goes in %d day(s)",
        why,
        enterprise_id,
        gone,
        ", ".join(left) or "no workspace",
        rt.settings.uninstall_grace_days,
    )


def _team(body: dict[str, Any], context: AsyncBoltContext) -> str:
    return str(context.team_id or body.get("team_id") or "")


def _org_install(body: dict[str, Any], context: AsyncBoltContext) -> str:
    """The org, when the event is about an org-wide install (Enterprise Grid)."""
    auths = body.get("authorizations") or [{}]
    org_wide = context.is_enterprise_install or bool((auths[0] or {}).get("is_enterprise_install"))
    return str(context.enterprise_id or body.get("enterprise_id") or "") if org_wide else ""


async def on_uninstalled(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    org = _org_install(body, context)
    team = _team(body, context)
    if org:
        await org_left(rt_of(context), org, "app uninstalled")
    elif team:
        await workspace_left(rt_of(context), team, "app uninstalled")


async def on_tokens_revoked(
    ack: AsyncAck, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    await ack()
    # Only the bot's token matters: the app asks for no user tokens.
    if not (event.get("tokens") or {}).get("bot"):
        return
    org = _org_install(body, context)
    team = _team(body, context)
    if org:
        await org_left(rt_of(context), org, "bot token revoked")
    elif team:
        await workspace_left(rt_of(context), team, "bot token revoked")


class Purge:
    """Deletes the data of workspaces uninstalled longer ago than the grace period."""

    def __init__(self) -> None:
        self.last: datetime | None = None

    async def __call__(self, rt: Runtime) -> None:
        now = rt.clock.now()
        if rt.tokens is None or (self.last is not None and now - self.last < PURGE_EVERY):
            return
        self.last = now
        cutoff = now - timedelta(days=rt.settings.uninstall_grace_days)
        for team_id in await rt.tx(workspaces.uninstalled_before, write=False, cutoff=cutoff):
            counts = await rt.tx(workspaces.purge_team, team_id=team_id)
            log.warning("workspace %s's data deleted after the grace period: %s", team_id, counts)


def register(app: AsyncApp, rt: Runtime) -> None:
    app.event("app_uninstalled")(on_uninstalled)
    app.event("tokens_revoked")(on_tokens_revoked)


NUDGE_KINDS = ()
PLANNERS = (Purge,)
