"""What every ritual's listeners share, so each listener is a small module-level function:

- the runtime reaches listeners through Bolt's `context` (`rt_of(context)`), set by one
  middleware, so a test can call a listener directly with its own context;
- work after the ack that fails tells the person who is waiting ("Something went wrong,
  nothing you typed is lost — try again"): the middleware names who that is for the
  request, and `Runtime.spawn` uses it unless a listener says otherwise;
- the common opening of a deal button — ack, read the click, the reader's words, the deal
  behind the button, "that deal is gone" — written once (`deal_button`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import bind_ids
from bot.messages import Texts
from bot.runtime import RT, Runtime, rt_of, tell_on_failure
from bot.slack.install import workspace_in_org
from bot.slack.teams import current_enterprise, current_team
from handlers.debrief_replies import (
    Click,
    DealState,
    deal_gone,
    load_deal,
    read_click,
    tell,
    texts_for,
)
from handlers.loop_command import reader_texts

log = logging.getLogger(__name__)

__all__ = ["RT", "rt_of", "deal_button", "DealClick", "register"]


def _who(body: dict[str, Any]) -> tuple[str, str]:
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    team = body.get("team") if isinstance(body.get("team"), dict) else {}
    user_id = str((user or {}).get("id") or body.get("user_id") or "")
    team_id = str(
        (team or {}).get("id") or (user or {}).get("team_id") or body.get("team_id") or ""
    )
    return team_id, user_id


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.middleware
    async def runtime_in_context(
        context: AsyncBoltContext,
        body: dict[str, Any],
        respond: AsyncRespond,
        next: Callable[[], Awaitable[None]],
    ) -> None:
        context[RT] = rt
        team_id, user_id = _who(body) if isinstance(body, dict) else ("", "")
        team_id = team_id or str(context.team_id or "")
        bind_ids(team=team_id, user=user_id)
        # OAuth mode: rt.client calls made for this request use this workspace's token
        # (or its org's, Enterprise Grid).
        current_team.set(team_id or None)
        org = str(context.enterprise_id or "")
        current_enterprise.set(org or None)
        if team_id and org:
            await workspace_in_org(rt, team_id, org)
        can_answer = isinstance(body, dict) and bool(body.get("response_url")) and user_id

        async def say_it_failed() -> None:
            t = await reader_texts(rt, team_id or rt.team_id or "", user_id)
            await tell(respond, t("errors.generic"))

        # Bolt runs the listeners after the last global middleware returns, so this is
        # not reset here: each request is handled in a task (and context) of its own.
        tell_on_failure.set(say_it_failed if can_answer else None)
        await next()


@dataclass(frozen=True)
class DealClick:
    """A click on a deal's button, once the deal behind it was found."""

    rt: Runtime
    click: Click
    t: Texts
    state: DealState
    body: dict[str, Any]
    client: AsyncWebClient
    respond: AsyncRespond

    @property
    def deal_id(self) -> int:
        assert self.state.deal.id is not None
        return self.state.deal.id


DealWork = Callable[[DealClick], Awaitable[None]]
Listener = Callable[..., Awaitable[None]]


def deal_button(name: str) -> Callable[[DealWork], Listener]:
    """The common opening of a button on a deal: ack at once, then — after the ack — read
    the click, the reader's words and the deal; a deal that is gone says so; otherwise
    `work` runs. A failure tells the clicker (the runtime middleware's default)."""

    def wrap(work: DealWork) -> Listener:
        async def listener(
            ack: AsyncAck,
            body: dict[str, Any],
            client: AsyncWebClient,
            respond: AsyncRespond,
            context: AsyncBoltContext,
        ) -> None:
            await ack()
            rt = rt_of(context)
            click = read_click(body, rt)

            async def run() -> None:
                t = await texts_for(rt, click.team_id, click.user_id)
                state = await load_deal(rt, click.deal_id)
                if state is None or state.deal.id is None:
                    await deal_gone(respond, t)
                    return
                await work(DealClick(rt, click, t, state, body, client, respond))

            rt.spawn(run(), name=f"{name}:{click.value}")

        listener.__name__ = getattr(work, "__name__", name)
        listener.__doc__ = work.__doc__
        return listener

    return wrap
