"""Slack listeners, one module per ritual or surface, each with a `register()`."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.messages import Texts
from bot.runtime import Runtime
from handlers import (
    concern,
    deals,
    errors,
    home,
    loop_command,
    loss_debrief,
    manager_call,
    prep,
    quiet,
    reflection,
    screen_out,
    team,
    tee_up,
    win_debrief,
)


def register_all(app: AsyncApp, rt: Runtime) -> loop_command.LoopCommand:
    commands = loop_command.LoopCommand()
    deals.register(app, rt, commands)
    win_debrief.register(app, rt)
    loss_debrief.register(app, rt, commands)
    manager_call.register(app, rt)
    tee_up.register(app, rt, commands)
    screen_out.register(app, rt, commands)
    prep.register(app, rt, commands)
    reflection.register(app, rt, commands)
    team.register(app, rt, commands)
    concern.register(app, rt, commands)
    quiet.register(app, rt, commands)
    loop_command.register(app, rt, commands)
    home.register(app, rt)
    errors.register(app, rt)

    # Registered last so a ritual's own message listener wins. Without it Bolt answers
    # 404 to every other message event and Slack would keep retrying them.
    @app.event("message")
    async def ignore_other_messages(event: dict[str, Any]) -> None:
        return None

    # A button from an older message whose ritual step this version does not handle:
    # answer instead of letting Bolt return 404, which Slack shows as a broken app.
    @app.action(re.compile(".*"))
    async def unknown_action(ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any]) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        text = Texts(rt.catalog, rt.locales.get(user))("errors.action_unavailable")
        if body.get("response_url"):
            await respond(text=text, response_type="ephemeral", replace_original=False)

    return commands
