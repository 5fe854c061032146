"""One place where a listener's unexpected error is logged, with context, and the user
is told in words they can act on (instead of a try/except in every listener)."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from bot.messages import Texts
from bot.runtime import Runtime
from bot.slack.errors import api_error

log = logging.getLogger(__name__)


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.error
    async def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> None:
        user = (
            (body.get("user") or {}).get("id")
            if isinstance(body.get("user"), dict)
            else (body.get("user_id") or (body.get("event") or {}).get("user"))
        )
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
        url = body.get("response_url")
        if url:
            from slack_sdk.webhook.async_client import AsyncWebhookClient

            text = Texts(rt.catalog, rt.locales.get(str(user or "")))("errors.generic")
            try:
                await AsyncWebhookClient(url).send(text=text, response_type="ephemeral")
            except Exception:  # noqa: BLE001 - the user message is best effort
                log.warning("could not tell the user about the error", exc_info=True)


def register_other_messages(app: AsyncApp) -> None:
    """Right after the only message listener that wants some messages: every other message
    is acked here. Without it Bolt answers 404 and Slack keeps retrying the event."""

    @app.event("message")
    async def ignore_other_messages(event: dict[str, Any]) -> None:
        return None


def register_unknown_actions(app: AsyncApp, rt: Runtime) -> None:
    """A button from an older message whose ritual step this version does not handle:
    answer instead of letting Bolt return 404, which Slack shows as a broken app."""

    @app.action(re.compile(".*"))
    async def unknown_action(ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any]) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        text = Texts(rt.catalog, rt.locales.get(user))("errors.action_unavailable")
        if body.get("response_url"):
            await respond(text=text, response_type="ephemeral", replace_original=False)
