"""Socket Mode: Slack sends events, commands and clicks over a WebSocket the app opens
(no public URL needed, the laptop and small-team set-up). The same Bolt app and
listeners as HTTP mode; the dispatcher runs as configured (DISPATCHER)."""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.nudges.dispatcher import Dispatcher
from bot.nudges.process import DispatcherProcess
from bot.runtime import Runtime, close_http_session, share_http_session
from bot.slack.identity import identify

log = logging.getLogger(__name__)


class SocketModeRunner:
    """Connects to Slack (`apps.connections.open` with the app-level token, through the
    runtime's client, so SLACK_API_URL applies) and serves until `stop`. Bolt's client
    reconnects by itself when Slack asks (a `disconnect` envelope) or the link drops."""

    def __init__(self, rt: Runtime, app: AsyncApp, *, dispatcher: str | None = None) -> None:
        self.rt = rt
        mode = dispatcher or rt.settings.dispatcher
        self.dispatcher: Dispatcher | DispatcherProcess | None = (
            Dispatcher(rt)
            if mode == "inline"
            else DispatcherProcess()
            if mode == "process"
            else None
        )
        self.app = app
        self.handler: AsyncSocketModeHandler | None = None

    async def start(self) -> None:
        # Made here: its aiohttp session needs the running loop.
        self.handler = AsyncSocketModeHandler(
            self.app, self.rt.settings.slack_app_token, web_client=self.rt.client
        )
        await share_http_session(self.rt.client)
        await identify(self.rt)
        if self.dispatcher is not None:
            self.dispatcher.start()
        log.info("Socket Mode: connecting to Slack")
        await self.handler.connect_async()

    async def disconnect(self) -> None:
        if self.handler is not None:
            await self.handler.close_async()
            self.handler = None

    async def stop(self) -> None:
        await self.disconnect()
        if self.dispatcher is not None:
            self.dispatcher.shutdown()
            await self.dispatcher.stopped()
        await self.rt.background.drain()
        await close_http_session(self.rt.client)
