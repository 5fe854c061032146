"""Many workspaces (OAuth mode): whose token a Web API call uses.

The code calls Slack through one client, `rt.client`, everywhere (listeners, the
dispatcher, planners). In OAuth mode that client is team-aware: each call uses the bot
token of the workspace being acted for, which a context variable holds — set for a
request by the listeners' middleware (handlers/common.py), and by the dispatcher per
nudge and the planners per workspace (`acting_for`). A call with no workspace set raises
(`NoWorkspace`) instead of guessing. With SLACK_BOT_TOKEN (one workspace) nothing of
this applies: the client uses that token, as it always did.

Tokens rotate (Slack's token rotation, on for OAuth installs): each lasts 12 hours and
comes with a refresh token. `TeamTokens` keeps each workspace's newest installation in
memory (read again from the database every RECHECK_SECONDS, so a refresh or an uninstall
seen by another process is noticed) and refreshes a token that expires within
REFRESH_MARGIN before handing it out — for an incoming request (`TeamAuthorize`, Bolt's
authorize step) and for the dispatcher's own sends alike, judged by the runtime's clock.

Enterprise Grid: an org-wide install (one installation for the org, no workspace) serves
every workspace of the org. A workspace's token is its own installation's, else its
org's: the org a request names, else the one the workspace was recorded in (the first
request from it records it, before any listener runs), so the dispatcher finds the
org's token for a nudge of any workspace of the org. An org's token is refreshed once,
whichever workspace needs it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.clock import Clock
from bot.slack.bundles import SectionAwareClient
from storage.installations import InstallationStore

log = logging.getLogger(__name__)
T = TypeVar("T")

# The workspace whose token `rt.client` uses for the calls made in this context.
current_team: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_team", default=None
)
# Enterprise Grid: the org of that workspace, as the request said (None: the org the
# workspace was recorded in, if any).
current_enterprise: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_enterprise", default=None
)

# Refresh a token that expires within this (Bolt's default, too).
REFRESH_MARGIN = timedelta(minutes=120)
RECHECK_SECONDS = 60.0
# Methods that carry no bot token (the app's own credentials, or none).
_NO_BOT_TOKEN = frozenset({"oauth.v2.access", "oauth.v2.exchange", "oauth.access"})


class NoWorkspace(RuntimeError):
    """OAuth mode: a Web API call with no workspace to act for."""


class NotInstalled(RuntimeError):
    """OAuth mode: the workspace has no tokens (never installed, or uninstalled)."""


@contextlib.contextmanager
def acting_for(team_id: str) -> Iterator[None]:
    """Calls made inside (and tasks started inside) use this workspace's token."""
    token = current_team.set(team_id or None)
    org = current_enterprise.set(None)
    try:
        yield
    finally:
        current_enterprise.reset(org)
        current_team.reset(token)


Blocking = Callable[..., Awaitable[Any]]


async def _to_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(fn, *args, **kwargs)


@dataclass
class _Held:
    installation: Installation
    loaded_at: float


class TeamTokens:
    """Each installed workspace's bot token, refreshed before it expires."""

    def __init__(
        self,
        *,
        store: InstallationStore,
        client_id: str,
        client_secret: str,
        api: AsyncWebClient,
        clock: Clock,
        run_blocking: Blocking = _to_thread,
        refresh_margin: timedelta = REFRESH_MARGIN,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self.store = store
        self.client_id = client_id
        self.client_secret = client_secret
        # A plain client (no token of its own) for oauth.v2.access.
        self.api = api
        self.clock = clock
        self.run_blocking = run_blocking
        self.refresh_margin = refresh_margin
        self.recheck_seconds = recheck_seconds
        self._held: dict[str, _Held] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.refreshed = 0
        # (workspace, org) pairs this process has recorded (workspace.enterprise_id).
        self.orgs_seen: set[tuple[str, str]] = set()

    def forget(self, team_id: str) -> None:
        """Drop what is held for the workspace (uninstalled, or installed again)."""
        self._held.pop(team_id, None)

    def forget_org(self, enterprise_id: str) -> None:
        """Drop the org's org-wide installation wherever it is held (every workspace of
        the org, and the org itself)."""
        for key, held in list(self._held.items()):
            inst = held.installation
            if inst.is_enterprise_install and inst.enterprise_id == enterprise_id:
                del self._held[key]

    async def installation(
        self, team_id: str, enterprise_id: str | None = None
    ) -> Installation | None:
        """The workspace's own installation, else its org's org-wide one (the org
        `enterprise_id` names, else the one the workspace was seen in)."""
        return await self._lookup(team_id, team_id, enterprise_id)

    async def org_installation(self, enterprise_id: str) -> Installation | None:
        """An org-level request (no workspace): the org's org-wide installation."""
        return await self._lookup(f"org:{enterprise_id}", None, enterprise_id)

    def _find(self, team_id: str | None, enterprise_id: str | None) -> Installation | None:
        if team_id:
            return self.store.find_for_workspace(team_id, enterprise_id)
        return self.store.find_for_org(enterprise_id) if enterprise_id else None

    async def _lookup(
        self, key: str, team_id: str | None, enterprise_id: str | None
    ) -> Installation | None:
        held = self._held.get(key)
        now = time.monotonic()
        if held is None or now - held.loaded_at > self.recheck_seconds:
            found = await self.run_blocking(self._find, team_id, enterprise_id)
            if found is None or not found.bot_token:
                self._held.pop(key, None)
                return None
            held = _Held(found, now)
            self._held[key] = held
        if self._expiring(held.installation):
            return await self._refresh(key, team_id, held.installation)
        return held.installation

    async def bot_token(self, team_id: str, enterprise_id: str | None = None) -> str:
        found = await self.installation(team_id, enterprise_id)
        if found is None or not found.bot_token:
            raise NotInstalled(f"workspace {team_id} has not installed the app")
        return found.bot_token

    def _expiring(self, inst: Installation) -> bool:
        expires = inst.bot_token_expires_at
        if not inst.bot_refresh_token or expires is None:
            return False
        return expires <= (self.clock.now() + self.refresh_margin).timestamp()

    async def _refresh(
        self, key: str, team_id: str | None, held: Installation
    ) -> Installation | None:
        # One refresh per installation: an org's, whichever workspace asks first (its
        # refresh token works once).
        org = held.enterprise_id if held.is_enterprise_install else None
        lock = self._locks.setdefault(f"org:{org}" if org else key, asyncio.Lock())
        async with lock:
            # Another task (or process) may have refreshed it meanwhile.
            found = await self.run_blocking(self._find, team_id, held.enterprise_id)
            if found is None or not found.bot_token:
                self._held.pop(key, None)
                return None
            if self._expiring(found):
                found = await self._rotate(found)
            self._held[key] = _Held(found, time.monotonic())
            return found

    async def _rotate(self, inst: Installation) -> Installation:
        """What slack_sdk's token rotator does, with the runtime's clock: the refresh
        grant, then the new token saved as the workspace's newest."""
        resp = await self.api.oauth_v2_access(
            client_id=self.client_id,
            client_secret=self.client_secret,
            grant_type="refresh_token",
            refresh_token=inst.bot_refresh_token,
        )
        whose = _whose(inst)
        if resp.get("token_type") != "bot":
            raise NotInstalled(f"refreshing {whose}'s token gave no bot token")
        fresh = Installation(**inst.to_dict_for_copying())
        fresh.bot_token = resp["access_token"]
        fresh.bot_refresh_token = resp.get("refresh_token") or inst.bot_refresh_token
        fresh.bot_token_expires_at = int(self.clock.now().timestamp()) + int(resp["expires_in"])
        await self.run_blocking(self.store.save, fresh)
        self.refreshed += 1
        log.info("refreshed the bot token of %s", whose)
        return fresh


def _whose(inst: Installation) -> str:
    if inst.is_enterprise_install:
        return f"org {inst.enterprise_id} (org-wide install)"
    return f"workspace {inst.team_id}"


class TeamClient(SectionAwareClient):
    """`rt.client`: with `tokens` (OAuth mode), each call uses the bot token of the
    workspace in `current_team`; without, the one token it was made with."""

    tokens: TeamTokens | None = None

    async def api_call(
        self, api_method: str, *, headers: dict[str, Any] | None = None, **kwargs: Any
    ) -> AsyncSlackResponse:
        tokens = self.tokens
        if tokens is None or api_method in _NO_BOT_TOKEN or _explicit_token(kwargs):
            return await super().api_call(api_method, headers=headers, **kwargs)
        team = current_team.get()
        if not team:
            raise NoWorkspace(f"{api_method}: no workspace to act for (OAuth mode)")
        token = await tokens.bot_token(team, current_enterprise.get())
        headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
        return await super().api_call(api_method, headers=headers, **kwargs)


def _explicit_token(kwargs: dict[str, Any]) -> bool:
    for key in ("params", "json", "data"):
        part = kwargs.get(key)
        if isinstance(part, dict) and part.get("token"):
            return True
    return False


def copy_for_sending(client: AsyncWebClient, retry_handlers: list[Any]) -> AsyncWebClient:
    """A copy of the runtime's client with other retry handlers (the dispatcher's),
    still team-aware."""
    copy = TeamClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        # The runtime's kept-alive connections (bot.runtime.share_http_session), if any.
        session=client.session,
        headers=dict(client.headers),
        retry_handlers=retry_handlers,
    )
    copy.tokens = getattr(client, "tokens", None)
    return copy


class TeamAuthorize(AsyncAuthorize):
    """Bolt's authorize step in OAuth mode: the workspace's installation, from memory
    (no database read and no auth.test per request), its token refreshed if it expires
    soon. Enterprise Grid: a workspace with no installation of its own is served by its
    org's org-wide install, and an org-level request (no workspace) by the org's."""

    def __init__(self, tokens: TeamTokens) -> None:
        self.tokens = tokens

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        if team_id:
            inst = await self.tokens.installation(team_id, enterprise_id)
        elif enterprise_id:
            inst = await self.tokens.org_installation(enterprise_id)
        else:
            return None
        if inst is None or not inst.bot_token:
            return None
        if inst.is_enterprise_install and enterprise_id and inst.enterprise_id != enterprise_id:
            return None
        return AuthorizeResult(
            enterprise_id=inst.enterprise_id,
            team_id=team_id,
            bot_user_id=inst.bot_user_id,
            bot_id=inst.bot_id,
            bot_token=inst.bot_token,
            bot_scopes=inst.bot_scopes,
            user_id=user_id,
        )


class AsyncStore(AsyncInstallationStore):
    """slack_sdk's SQLAlchemy installation store (sync) for Bolt's async install flow;
    `on_saved` runs after each new installation is stored."""

    def __init__(
        self,
        store: InstallationStore,
        *,
        run_blocking: Blocking = _to_thread,
        on_saved: Callable[[Installation], Awaitable[None]] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.run_blocking = run_blocking
        self.on_saved = on_saved

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        expires = installation.bot_token_expires_at
        if expires is not None and self.clock is not None:
            # Bolt dates the expiry by the wall clock; the refresh judges it by the
            # runtime's (the same in production; the tests' own otherwise).
            lifetime = expires - int(time.time())
            installation.bot_token_expires_at = int(self.clock.now().timestamp()) + lifetime
        await self.run_blocking(self.store.save, installation)
        if self.on_saved is not None:
            await self.on_saved(installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await self.run_blocking(self.store.save_bot, bot)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        return await self.run_blocking(
            self.store.find_bot,
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await self.run_blocking(
            self.store.find_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.run_blocking(self.store.delete_bot, enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await self.run_blocking(
            self.store.delete_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
        )


class SignedStateStore(AsyncOAuthStateStore):
    """The install flow's state: one-time (slack_sdk's SQLAlchemy state store, on our
    database) and signed with SLACK_STATE_SECRET, so a forged or tampered state is
    refused before the database is asked."""

    def __init__(
        self, store: SQLAlchemyOAuthStateStore, secret: str, *, run_blocking: Blocking = _to_thread
    ) -> None:
        self.store = store
        self.secret = secret.encode()
        self.run_blocking = run_blocking

    @property
    def logger(self) -> logging.Logger:
        return log

    def _sign(self, nonce: str) -> str:
        return hmac.new(self.secret, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        nonce = await self.run_blocking(self.store.issue)
        return f"{nonce}.{self._sign(nonce)}"

    async def async_consume(self, state: str) -> bool:
        nonce, _, signature = (state or "").rpartition(".")
        if not nonce or not hmac.compare_digest(signature, self._sign(nonce)):
            return False
        return bool(await self.run_blocking(self.store.consume, nonce))
