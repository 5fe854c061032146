"""Slack listeners, one module per ritual or surface, each with a `register()`."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.messages import Texts
from bot.runtime import Runtime
from bot.slack import clicks
from handlers import (
    concern,
    deals,
    errors,
    guard,
    home,
    loop_command,
    loss_debrief,
    manager_call,
    prep,
    privacy,
    quiet,
    reflection,
    screen_out,
    team,
    tee_up,
    win_debrief,
)


def register_all(app: AsyncApp, rt: Runtime) -> loop_command.LoopCommand:
    """Order matters for speed: Bolt tries listeners in registration order and builds
    every listener's arguments just to run its matcher. Channel messages (Slack's most
    frequent request) and `/loop` (the one a person waits on) come first, so acking
    them does not pay for thirty button and modal listeners."""
    # A replayed click is dropped first; then the owner check sees every button and modal
    # before any listener does.
    clicks.register(app)
    guard.register(app, rt)
    commands = loop_command.LoopCommand()
    deals.register(app, rt, commands)

    # Right after the only message listener that wants some messages: every other message
    # is acked here. Without it Bolt answers 404 and Slack keeps retrying the event.
    @app.event("message")
    async def ignore_other_messages(event: dict[str, Any]) -> None:
        return None

    # The router looks subcommands up per call, so rituals below can still add theirs.
    loop_command.register(app, rt, commands)
    win_debrief.register(app, rt)
    loss_debrief.register(app, rt, commands)
    manager_call.register(app, rt)
    tee_up.register(app, rt, commands)
    screen_out.register(app, rt, commands)
    prep.register(app, rt, commands)
    reflection.register(app, rt, commands)
    team.register(app, rt, commands)
    concern.register(app, rt, commands)
    privacy.register(app, rt, commands)
    quiet.register(app, rt, commands)
    home.register(app, rt)
    errors.register(app, rt)

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
