"""One place where a listener's unexpected error is logged, with context, and the user
is told in words they can act on (instead of a try/except in every listener)."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.messages import Texts
from bot.runtime import RT, Runtime, rt_of
from bot.slack.errors import api_error

log = logging.getLogger(__name__)


def _user_of(body: dict[str, Any]) -> str:
    if isinstance(body.get("user"), dict):
        return str(body["user"].get("id") or "")
    return str(body.get("user_id") or (body.get("event") or {}).get("user") or "")


def _log(error: Exception, body: dict[str, Any], response: BoltResponse | None) -> None:
    user = _user_of(body)
    kind = body.get("type") or ("slash_command" if body.get("command") else "?")
    team = body.get("team_id") or (body.get("team") or {}).get("id")
    if isinstance(error, SlackApiError):
        # Slack refused a call (an expired trigger, a message gone): not our bug, and
        # retrying the request would not help. One line, and a 200 so Slack does not
        # deliver the same click again; the person is told below.
        log.warning(
            "listener stopped: Slack said %s (type=%s user=%s team=%s)",
            api_error(error),
            kind,
            user,
            team,
        )
        if response is not None:
            response.status = 200
    else:
        log.error("listener failed: type=%s user=%s team=%s", kind, user, team, exc_info=error)


async def on_error(
    error: Exception,
    body: dict[str, Any],
    response: BoltResponse | None,
    context: AsyncBoltContext,
) -> None:
    _log(error, body, response)
    url = body.get("response_url")
    rt = context.get(RT)
    if not url or not isinstance(rt, Runtime):
        return  # nowhere to answer, or it failed before the runtime was in the context
    text = Texts(rt.catalog, rt.locales.get(_user_of(body)))("errors.generic")
    try:
        await AsyncWebhookClient(url).send(text=text, response_type="ephemeral")
    except Exception:  # noqa: BLE001 - the user message is best effort
        log.warning("could not tell the user about the error", exc_info=True)


def register(app: AsyncApp, rt: Runtime) -> None:
    app.error(on_error)


async def ignore_other_messages(event: dict[str, Any]) -> None:
    return None


def register_other_messages(app: AsyncApp) -> None:
    """Right after the only message listener that wants some messages: every other message
    is acked here. Without it Bolt answers 404 and Slack keeps retrying the event."""
    app.event("message")(ignore_other_messages)


async def unknown_action(
    ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any], context: AsyncBoltContext
) -> None:
    """A button from an older message whose ritual step this version does not handle:
    answer instead of letting Bolt return 404, which Slack shows as a broken app."""
    await ack()
    rt = rt_of(context)
    user = str((body.get("user") or {}).get("id") or "")
    text = Texts(rt.catalog, rt.locales.get(user))("errors.action_unavailable")
    if body.get("response_url"):
        await respond(text=text, response_type="ephemeral", replace_original=False)


def register_unknown_actions(app: AsyncApp, rt: Runtime) -> None:
    app.action(re.compile(".*"))(unknown_action)
