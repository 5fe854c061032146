"""Slack listeners, one module per ritual or surface, each with a `register()`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.runtime import Runtime
from handlers import deals, errors, loop_command


def register_all(app: AsyncApp, rt: Runtime) -> loop_command.LoopCommand:
    commands = loop_command.LoopCommand()
    deals.register(app, rt, commands)
    loop_command.register(app, rt, commands)
    errors.register(app, rt)

    # Registered last so a ritual's own message listener wins. Without it Bolt answers
    # 404 to every other message event and Slack would keep retrying them.
    @app.event("message")
    async def ignore_other_messages(event: dict[str, Any]) -> None:
        return None

    return commands
