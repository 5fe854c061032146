"""OAuth mode's install flow: `GET /slack/install` (the "Add to Slack" page) and
`GET /slack/oauth_redirect` (Slack sends the installer back with a code), with Bolt's
AsyncOAuthFlow on our own database (bot/slack/teams.py, storage/installations.py); and
the authorize step each request goes through. An Enterprise Grid org can install the app
org-wide: one installation (no workspace) that serves every workspace of the org."""

from __future__ import annotations

import logging

from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from bot.slack.teams import AsyncStore, SignedStateStore
from storage import installations, workspaces

log = logging.getLogger(__name__)

# The bot scopes an install asks for: manifest.yml's (tests/unit/test_manifest.py).
BOT_SCOPES = (
    "channels:history",
    "groups:history",
    "channels:join",
    "channels:read",
    "groups:read",
    "chat:write",
    "commands",
    "dnd:read",
    "files:write",
    "im:history",
    "im:write",
    "reactions:write",
    "users:read",
    "users:read.email",
)
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600


def authorize_url(rt: Runtime) -> str:
    """Slack's consent page; the stand-in's when SLACK_API_URL points at one."""
    base = rt.settings.slack_api_url
    if base.rstrip("/").endswith("slack.com/api"):
        return "https://slack.com/oauth/v2/authorize"
    return base.rstrip("/").removesuffix("/api") + "/oauth/v2/authorize"


def oauth_flow(rt: Runtime) -> AsyncOAuthFlow:
    settings = rt.settings
    assert rt.tokens is not None and settings.slack_client_id and settings.slack_client_secret
    assert settings.slack_state_secret

    async def installed(installation: Installation) -> None:
        team, org = installation.team_id, installation.enterprise_id
        if installation.is_enterprise_install and org:
            rt.tokens.forget_org(org)  # type: ignore[union-attr]
            teams = await rt.tx(
                workspaces.mark_org_installed, enterprise_id=org, now=rt.clock.now()
            )
            for seen in teams:
                rt.tokens.forget(seen)  # type: ignore[union-attr]
            log.info(
                "installed org-wide in org %s (%s); %d workspace(s) of it seen so far",
                org,
                installation.enterprise_name,
                len(teams),
            )
            return
        if not team:
            return
        rt.tokens.forget(team)  # type: ignore[union-attr]
        await rt.tx(
            workspaces.mark_installed,
            team_id=team,
            name=installation.team_name,
            now=rt.clock.now(),
            enterprise_id=org,
        )
        log.info("installed in workspace %s (%s)", team, installation.team_name)

    store = AsyncStore(rt.tokens.store, run_blocking=rt.db, on_saved=installed, clock=rt.clock)
    states = SignedStateStore(
        installations.state_store(rt.engine, expiration_seconds=STATE_SECONDS),
        settings.slack_state_secret,
        run_blocking=rt.db,
    )
    oauth = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorize_url(rt),
        installation_store=store,
        state_store=states,
        state_expiration_seconds=STATE_SECONDS,
    )
    return AsyncOAuthFlow(client=AsyncWebClient(base_url=settings.slack_api_url), settings=oauth)


async def workspace_in_org(rt: Runtime, team_id: str, enterprise_id: str) -> None:
    """A request from a workspace of an Enterprise Grid org: the workspace is recorded
    with its org (once per process), so what is sent there later without a request
    (the dispatcher's nudges) finds the org's org-wide install."""
    if rt.tokens is None or (team_id, enterprise_id) in rt.tokens.orgs_seen:
        return
    await rt.tx(
        workspaces.seen_in_org, team_id=team_id, enterprise_id=enterprise_id, now=rt.clock.now()
    )
    rt.tokens.orgs_seen.add((team_id, enterprise_id))
